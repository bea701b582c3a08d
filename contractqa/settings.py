"""The one configuration object, built once at the entry point and passed down."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# An allowed origin is a scheme and a host (and port): never "*", never a path or a directive.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
_TOKEN_NAME = re.compile(r"^[\w.@-]{1,64}$")
_SCOPES = {"ask", "edit", "admin", "reader", "editor"}
# A matter (dossier) id, wherever one is read: settings, tokens, the CLI, the API.
MATTER_PATTERN = r"^[\w.-]{1,64}$"
_MATTER = re.compile(MATTER_PATTERN)


def _default_data_dir() -> Path:
    return Path(user_data_dir("contractqa", appauthor=False))


class Settings(BaseSettings):
    """All settings, read from `CONTRACTQA_*` environment variables or a `.env` file."""

    model_config = SettingsConfigDict(env_prefix="CONTRACTQA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    chroma_url: str | None = None
    collection: str = "contracts"
    embeddings: str = "use"
    chunk_tokens: Annotated[int, Field(ge=50, le=4000)] = 400
    max_file_mb: Annotated[float, Field(gt=0)] = 20.0
    # A second writer (CLI, server) on one data dir waits this long for the first, then refuses.
    # Indexing the sample corpus takes about 40 s on 2 cores; 5 minutes covers a large upload.
    write_lock_timeout_s: Annotated[float, Field(ge=0)] = 300.0
    # What a process keeps in memory of the index, whatever the corpus (ingest/store.py says
    # what each costs): the passages of this many documents, and this many passages by id.
    cache_documents: Annotated[int, Field(ge=1)] = 32
    cache_passages: Annotated[int, Field(ge=100)] = 10_000
    # ... and the router's word lists read from its postings on disk, in document ids (about
    # 50 bytes each; retrieval/routing.py, CACHED_POSTINGS, says what it was measured on).
    cache_postings: Annotated[int, Field(ge=1000)] = 500_000

    # Retrieval
    top_k: Annotated[int, Field(ge=1, le=50)] = 6
    # Recalibrate (`contractqa eval --calibrate`) on any change.
    abstain_threshold: Annotated[float, Field(ge=0, le=1)] = 0.19
    reranker: str = "none"  # or "cross-encoder:<model name or path>", "contractqa-fr[:<file>]"

    # Answering
    llm_provider: str = "none"  # a name of retrieval.llm.PROVIDERS: none, openai, ollama, local
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    llm_context_tokens: Annotated[int, Field(ge=256)] = 3000
    # The model reads at most this many of the top excerpts (within llm_context_tokens).
    # Measured 2026-12-04 on the 606 answerable gold questions of eval/gold (`python -m
    # bench.llm_thresholds`): the gold evidence is in the prompt for 499 / 512 / 528 / 532 /
    # 551 of them with 3 / 4 / 5 / 6 / 10 excerpts, for 674 / 903 / 1,113 / 1,326 / 2,098
    # excerpt tokens: 5 keeps 96 % of what 10 hold for half the tokens (prompt tokens are
    # what a CPU pays most for). On the 1.5B's 60-question run with 10, 11 of its 84 markers
    # cited excerpts 6 to 10 (docs/figures.md, fifth run).
    llm_excerpts: Annotated[int, Field(ge=1, le=50)] = 5
    # The judge (LLM mode): before answering, the model says whether the top `passages`
    # excerpts (cut to the question's sentences, within `tokens`) answer the question; below
    # the threshold on P(« oui ») the chain abstains. Calibrated 2026-12-03 with the 1.5B on
    # the 60 questions of eval/llm/llm60_pool.jsonl (20 unanswerable; docs/figures.md,
    # `contractqa eval --calibrate` in LLM mode): 0.5, the model's own word, refuses 0.15 of
    # the unanswerable questions and 0.025 of the others; 0.67 refuses 0.45 and 0.075 (the
    # curve's recommendation at 10 % false refusals, 0.6794, refuses no more unanswerable
    # ones and 0.10 of the others). Recalibrate on any change of model.
    llm_judge: bool = True
    llm_judge_threshold: Annotated[float, Field(ge=0, le=1)] = 0.67
    llm_judge_passages: Annotated[int, Field(ge=1, le=20)] = 3
    llm_judge_tokens: Annotated[int, Field(ge=128)] = 800
    # Whether the judge reads only each excerpt's sentence closest to the question (a shorter
    # prompt; no better on the 60 questions: retrieval/judge.py, JudgeConfig).
    llm_judge_sentences: bool = False
    # When no sentence of the model's answer is supported, abstain below this P(« oui »)
    # instead of showing the extractive answer (None: always show it). Off: measured
    # 2026-12-04 with the 1.5B, 0.75 (chosen on the 40 outside the 60) refused 0.05 more of
    # the unanswerable of those 40 and none more of the 60's, for 0.05 more false refusals
    # on both (docs/figures.md, "The verifier").
    llm_judge_unsupported_threshold: Annotated[float | None, Field(ge=0, le=1)] = None
    # The verifier (LLM mode): after answering, the model says whether the passages its answer
    # cites establish it (cut to the sentences sharing words with the question and the
    # answer, within `tokens`; with `quotes`, only the sentences quoted under the answer);
    # below the threshold on P(« oui ») the chain abstains. Off: measured 2026-12-04 with the
    # 1.5B (docs/figures.md, "The verifier"), chosen on 40 gold questions outside the 60
    # (0.65: recall 0.65 -> 0.70, no false refusal), then on the 60 of
    # eval/llm/llm60_pool.jsonl it refused no unanswerable question more and 0.025 more of the
    # others. One more model call per answer; recalibrate before turning it on.
    llm_verify: bool = False
    llm_verify_threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    llm_verify_tokens: Annotated[int, Field(ge=128)] = 700
    llm_verify_quotes: bool = False
    # The `local` provider: a GGUF file run by llama.cpp in this process (default: the 1.5B that
    # `make llm` installs), its CPU threads (1 is faster while other work runs on the machine)
    # and its context size in tokens.
    llm_model_path: Path | None = None
    llm_threads: Annotated[int, Field(ge=1, le=256)] = 1
    llm_context_size: Annotated[int, Field(ge=512)] = 4096

    # Web app
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 7860
    api_tokens: SecretStr | None = None
    api_tokens_file: Path | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_upload_mb: Annotated[float, Field(gt=0)] = 20.0
    rate_limit_per_minute: Annotated[int, Field(ge=0)] = 60  # 0: no limit
    # The matter (dossier) of contracts indexed without one (`contractqa ingest --matter`).
    default_matter: Annotated[str, Field(pattern=MATTER_PATTERN)] = "general"
    # Who uses the chat (contractqa/security/identity.py): a login with the users' names and
    # tokens (api_tokens) kept in a signed session cookie, or a single sign-on reverse proxy's
    # user header, honoured only from these addresses or networks (e.g. "10.0.0.5,10.1.0.0/16").
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    proxy_user_header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "Remote-User"
    # Signs the session cookies; unset: a random key per start (every session ends on restart).
    session_secret: SecretStr | None = None
    session_hours: Annotated[float, Field(gt=0, le=720)] = 12.0  # a working day, then log in
    login_attempts_per_minute: Annotated[int, Field(ge=1)] = 10  # per client address

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, proxies: list[str]) -> list[str]:
        bad = []
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                bad.append(proxy)
        if bad:
            raise ValueError(f"adresses invalides {bad} (attendu une adresse IP ou un réseau "
                             "CIDR, par exemple 10.0.0.5 ou 10.1.0.0/16)")
        return proxies

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
        return list(self.allowed_origins)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """"https://a.example, https://b.example" (pydantic-settings' NoDecode pattern)."""
        if isinstance(value, str):
            value = [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        bad = [o for o in origins if not _ORIGIN.match(o)]
        if bad:
            raise ValueError(f"origines invalides {bad} (attendu https://hôte[:port], jamais *)")
        return origins

    @field_validator("api_tokens")
    @classmethod
    def _check_tokens(cls, tokens: SecretStr | None) -> SecretStr | None:
        """`name:token[:scopes[:matters]]` entries, checked at startup (the message never
        shows a token)."""
        for number, item in enumerate(tokens.get_secret_value().split(",") if tokens else [], 1):
            parts = item.strip().split(":")
            if not item.strip():
                continue
            if (len(parts) not in (2, 3, 4) or not _TOKEN_NAME.match(parts[0])
                    or (len(parts[1]) < 8 and parts[1] != "-")):
                raise ValueError(f"entrée n°{number} : format attendu "
                                 "nom:jeton[:scopes[:dossiers]], jeton d'au moins 8 caractères "
                                 "(« - » : utilisateur sans jeton, connecté par le proxy)")
            written = parts[2].lower() if len(parts) >= 3 else "ask"
            scopes = set(re.split(r"[+,\s|]+", written)) - {""}
            if not scopes or scopes - _SCOPES:
                raise ValueError(f"entrée n°{number} : scopes inconnus (attendus : ask, edit, "
                                 "admin ; reader, editor)")
            matters = set(re.split(r"[+,\s|]+", parts[3])) - {"", "*"} if len(parts) == 4 else set()
            if any(not _MATTER.match(m) for m in matters):
                raise ValueError(f"entrée n°{number} : dossiers invalides (lettres, chiffres, "
                                 "« . », « - », « _ », séparés par « + »)")
        return tokens

    # REST API (contractqa/api.py)
    api_timeout_s: Annotated[float, Field(gt=0)] = 60.0  # an /api/ask slower than this answers 504
    # JSON request bodies under /api (uploads: max_upload_mb).
    api_max_body_kb: Annotated[int, Field(ge=1)] = 128
    api_workers: Annotated[int, Field(ge=1, le=64)] = 8  # threads answering API questions at once
    # Upload jobs (contractqa/jobs.py), in memory only: finished ones remembered, and how many
    # may wait or run at once (one more upload answers 503).
    api_jobs_kept: Annotated[int, Field(ge=1)] = 100
    api_jobs_pending_max: Annotated[int, Field(ge=1)] = 10
