"""Build the configured chat model, or none: a small registry of providers (name -> builder).

Every provider returns a LangChain chat model, so the chain never knows which one runs:
`openai` (any OpenAI-compatible server), `ollama`, and `local` (a GGUF model run by llama.cpp
inside this process, reached through the same OpenAI-compatible interface).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

if TYPE_CHECKING:
    from contractqa.settings import Settings


class LLMConfigError(Exception):
    """The LLM settings are incomplete; the message says which variable to set."""


def _model_name(settings: Settings) -> str:
    if not settings.llm_model:
        raise LLMConfigError(f"CONTRACTQA_LLM_PROVIDER={settings.llm_provider} demande un "
                             "modèle : définissez CONTRACTQA_LLM_MODEL.")
    return settings.llm_model


def _openai_chat(model: str, base_url: str, settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    key = settings.llm_api_key or SecretStr("not-needed")
    # stream_usage: the last streamed chunk carries the prompt tokens the server counted.
    return ChatOpenAI(model=model, base_url=base_url, api_key=key, timeout=settings.llm_timeout_s,
                      temperature=0, max_retries=1, stream_usage=True)


def _openai(settings: Settings) -> BaseChatModel:
    model = _model_name(settings)
    if not settings.llm_base_url:
        raise LLMConfigError(
            "Aucune adresse de serveur : définissez CONTRACTQA_LLM_BASE_URL (par ex. "
            "http://127.0.0.1:8000/v1 pour vLLM ou llama.cpp), ou CONTRACTQA_LLM_PROVIDER=local "
            "pour faire tourner un modèle GGUF sur cette machine."
        )
    return _openai_chat(model, settings.llm_base_url, settings)


def _ollama(settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(model=_model_name(settings),
                      base_url=settings.llm_base_url or "http://127.0.0.1:11434", temperature=0)


def _local(settings: Settings) -> BaseChatModel:
    from retrieval.local_llm import LocalConfig, LocalModelError, local_server, resolve_model

    try:
        path = resolve_model(settings.llm_model_path, settings.cache_dir)
        server = local_server(LocalConfig(path, settings.llm_threads,
                                          settings.llm_context_size))
    except LocalModelError as exc:
        raise LLMConfigError(str(exc)) from exc
    return _openai_chat(settings.llm_model or path.stem, server.base_url, settings)


Builder = Callable[["Settings"], BaseChatModel]
PROVIDERS: dict[str, Builder] = {"openai": _openai, "ollama": _ollama, "local": _local}


def model_label(settings: Settings) -> str | None:
    """The model name shown with answers (the file name for the local provider)."""
    if settings.llm_provider == "local" and not settings.llm_model:
        from retrieval.local_llm import resolve_model

        return resolve_model(settings.llm_model_path, settings.cache_dir).stem
    return settings.llm_model


def build_llm(settings: Settings) -> BaseChatModel | None:
    """None in extractive mode (the default); a LangChain chat model otherwise."""
    provider = settings.llm_provider
    if provider == "none":
        return None
    builder = PROVIDERS.get(provider)
    if builder is None:
        raise LLMConfigError(
            f"CONTRACTQA_LLM_PROVIDER={provider} est inconnu : choisissez parmi none, "
            + ", ".join(PROVIDERS) + ".")
    return builder(settings)
