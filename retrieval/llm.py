"""Build the configured chat model (an OpenAI-compatible server, or Ollama), or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

if TYPE_CHECKING:
    from contractqa.settings import Settings


class LLMConfigError(Exception):
    """The LLM settings are incomplete; the message says which variable to set."""


def build_llm(settings: Settings) -> BaseChatModel | None:
    """None in extractive mode (the default); a LangChain chat model otherwise."""
    provider = settings.llm_provider
    if provider == "none":
        return None
    if not settings.llm_model:
        raise LLMConfigError(
            f"CONTRACTQA_LLM_PROVIDER={provider} demande un modèle : définissez "
            "CONTRACTQA_LLM_MODEL."
        )
    if provider == "openai":
        if not settings.llm_base_url:
            raise LLMConfigError(
                "Aucune adresse de serveur : définissez CONTRACTQA_LLM_BASE_URL (par ex. "
                "http://127.0.0.1:8000/v1 pour vLLM ou llama.cpp)."
            )
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        key = settings.llm_api_key or SecretStr("not-needed")
        return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=key,
                          timeout=settings.llm_timeout_s, temperature=0, max_retries=1)
    from langchain_ollama import ChatOllama

    return ChatOllama(model=settings.llm_model,
                      base_url=settings.llm_base_url or "http://127.0.0.1:11434", temperature=0)
