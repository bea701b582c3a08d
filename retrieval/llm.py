"""Build the configured chat model, or none: a small registry of providers (name -> builder).

Every provider returns a LangChain chat model, so the chain never knows which one runs:
`openai` (any OpenAI-compatible server), `ollama`, and `local` (a GGUF model run by llama.cpp
inside this process, reached through the same OpenAI-compatible interface).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr


@dataclass(frozen=True)
class LLMConfig:
    """Which chat model answers (`provider` "none": extractive answers, no model)."""

    provider: str = "none"
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 60.0
    # The `local` provider: a GGUF file (default: the 1.5B `make llm` installs into
    # `cache_dir`), its CPU threads and its context size in tokens.
    model_path: Path | None = None
    cache_dir: Path | None = None
    threads: int = 1
    context_size: int = 4096


class LLMConfigError(Exception):
    """The LLM settings are incomplete; the message says which variable to set."""


def _model_name(config: LLMConfig) -> str:
    if not config.model:
        raise LLMConfigError(f"CONTRACTQA_LLM_PROVIDER={config.provider} demande un "
                             "modèle : définissez CONTRACTQA_LLM_MODEL.")
    return config.model


def _openai_chat(model: str, base_url: str, config: LLMConfig) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    key = config.api_key or SecretStr("not-needed")
    # stream_usage: the last streamed chunk carries the prompt tokens the server counted.
    return ChatOpenAI(model=model, base_url=base_url, api_key=key, timeout=config.timeout_s,
                      temperature=0, max_retries=1, stream_usage=True)


def _openai(config: LLMConfig) -> BaseChatModel:
    model = _model_name(config)
    if not config.base_url:
        raise LLMConfigError(
            "Aucune adresse de serveur : définissez CONTRACTQA_LLM_BASE_URL (par ex. "
            "http://127.0.0.1:8000/v1 pour vLLM ou llama.cpp), ou CONTRACTQA_LLM_PROVIDER=local "
            "pour faire tourner un modèle GGUF sur cette machine."
        )
    return _openai_chat(model, config.base_url, config)


def _ollama(config: LLMConfig) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    # The same timeout as the other providers: a stalled Ollama never holds a question forever.
    return ChatOllama(model=_model_name(config),
                      base_url=config.base_url or "http://127.0.0.1:11434", temperature=0,
                      client_kwargs={"timeout": config.timeout_s})


def _local(config: LLMConfig) -> BaseChatModel:
    from retrieval.local_llm import LocalConfig, LocalModelError, local_server, resolve_model

    try:
        path = resolve_model(config.model_path, _cache_dir(config))
        server = local_server(LocalConfig(path, config.threads, config.context_size))
    except LocalModelError as exc:
        raise LLMConfigError(str(exc)) from exc
    return _openai_chat(config.model or path.stem, server.base_url, config)


def _cache_dir(config: LLMConfig) -> Path:
    if config.cache_dir is None:
        raise LLMConfigError("Le fournisseur local a besoin du dossier de cache des modèles "
                             "(CONTRACTQA_DATA_DIR).")
    return config.cache_dir


Builder = Callable[[LLMConfig], BaseChatModel]
PROVIDERS: dict[str, Builder] = {"openai": _openai, "ollama": _ollama, "local": _local}


def model_label(config: LLMConfig) -> str | None:
    """The model name shown with answers (the file name for the local provider)."""
    if config.provider == "local" and not config.model:
        from retrieval.local_llm import resolve_model

        return resolve_model(config.model_path, _cache_dir(config)).stem
    return config.model


def build_llm(config: LLMConfig) -> BaseChatModel | None:
    """None in extractive mode (the default); a LangChain chat model otherwise."""
    provider = config.provider
    if provider == "none":
        return None
    builder = PROVIDERS.get(provider)
    if builder is None:
        raise LLMConfigError(
            f"CONTRACTQA_LLM_PROVIDER={provider} est inconnu : choisissez parmi none, "
            + ", ".join(PROVIDERS) + ".")
    return builder(config)
