"""The one configuration object, built once at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(user_data_dir("contractqa", appauthor=False))


class Settings(BaseSettings):
    """All settings, read from `CONTRACTQA_*` environment variables or a `.env` file."""

    model_config = SettingsConfigDict(env_prefix="CONTRACTQA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    chroma_url: str | None = None
    collection: str = "contracts"
    embeddings: str = "use"
    chunk_tokens: int = 400
    max_file_mb: float = 20.0
    # A second writer (CLI, server) on one data dir waits this long for the first, then refuses.
    # Indexing the sample corpus takes about 40 s on 2 cores; 5 minutes covers a large upload.
    write_lock_timeout_s: float = 300.0

    # Retrieval
    top_k: int = 6
    abstain_threshold: float = 0.19  # recalibrate (`contractqa eval --calibrate`) on any change
    reranker: str = "none"  # or "cross-encoder:<model name or path>"

    # Answering
    llm_provider: str = "none"  # a name of retrieval.llm.PROVIDERS: none, openai, ollama, local
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 60.0
    llm_context_tokens: int = 3000
    # The `local` provider: a GGUF file run by llama.cpp in this process (default: the 1.5B that
    # `make llm` installs), its CPU threads (1 is faster while other work runs on the machine)
    # and its context size in tokens.
    llm_model_path: Path | None = None
    llm_threads: int = 1
    llm_context_size: int = 4096

    # Web app
    host: str = "127.0.0.1"
    port: int = 7860
    api_tokens: SecretStr | None = None
    api_tokens_file: Path | None = None
    allowed_origins: str = ""
    max_upload_mb: float = 20.0
    rate_limit_per_minute: int = 60

    @field_validator("chroma_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]

    # REST API (contractqa/api.py)
    api_timeout_s: float = 60.0  # an /api/ask slower than this answers 504
    api_max_body_kb: int = 128  # JSON request bodies under /api (uploads: max_upload_mb)
    api_workers: int = 8  # threads answering API questions at once
    # Upload jobs (contractqa/jobs.py), in memory only: finished ones remembered, and how many
    # may wait or run at once (one more upload answers 503).
    api_jobs_kept: int = 100
    api_jobs_pending_max: int = 10
