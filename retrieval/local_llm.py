"""A GGUF model served by llama.cpp (xllamacpp) inside this process, on 127.0.0.1.

xllamacpp runs llama.cpp's OpenAI-compatible HTTP server in a thread of this process; the
chain reaches it through langchain-openai's ChatOpenAI, like any OpenAI-compatible server.
One server is started per (model file, threads, context size) and lives until the process
exits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.gguf import DEFAULT_MODEL, MODELS, ModelFileError, model_path, verify


class LocalModelError(Exception):
    """The local model cannot start; the message says how to fix it (in French)."""


@dataclass(frozen=True)
class LocalConfig:
    path: Path
    threads: int = 1
    context_size: int = 4096


class LocalServer:
    """llama.cpp's server for one GGUF file, listening on 127.0.0.1 (a free port)."""

    def __init__(self, config: LocalConfig) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise LocalModelError("xllamacpp n'est pas installé : lancez `make llm`.") from exc
        if config.threads < 1 or config.context_size < 512:
            raise LocalModelError("CONTRACTQA_LLM_THREADS doit valoir au moins 1 et "
                                  "CONTRACTQA_LLM_CONTEXT_SIZE au moins 512.")
        params: Any = xllamacpp.CommonParams()
        params.model.path = str(config.path)
        params.n_ctx = config.context_size
        params.n_parallel = 1  # one answer at a time: a CPU has no spare compute for two
        params.cpuparams.n_threads = config.threads
        params.cpuparams_batch.n_threads = config.threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, read back from listening_address
        params.verbosity = -1
        self.config = config
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise LocalModelError(
                f"Le modèle {config.path} n'a pas pu être chargé par llama.cpp ({exc}) : "
                "vérifiez que CONTRACTQA_LLM_MODEL_PATH désigne un fichier GGUF.") from exc
        self.base_url = f"{self._server.listening_address}/v1"


_servers: dict[LocalConfig, LocalServer] = {}
_lock = threading.Lock()


def local_server(config: LocalConfig) -> LocalServer:
    """The running server for this configuration, started on first use."""
    with _lock:
        if config not in _servers:
            _servers[config] = LocalServer(config)
        return _servers[config]


def resolve_model(path: Path | None, cache_dir: Path) -> Path:
    """The GGUF file to run: the configured path, else the 1.5B joined by `make llm`.

    A file named like one of the packaged models must carry that model's sha256; any other
    GGUF file (a firm's Mistral or 7B) is used as it is.
    """
    chosen = path or model_path(DEFAULT_MODEL, cache_dir)
    known = next((m for m in MODELS.values() if m.filename == chosen.name), None)
    if not chosen.is_file():
        if known is not None:
            raise LocalModelError(f"Modèle {known.name} introuvable ({chosen}) : lancez "
                                  "`make llm`, ou indiquez un fichier GGUF dans "
                                  "CONTRACTQA_LLM_MODEL_PATH.")
        raise LocalModelError(f"CONTRACTQA_LLM_MODEL_PATH={chosen} : fichier introuvable.")
    if known is not None:
        try:
            verify(known, chosen)
        except ModelFileError as exc:
            raise LocalModelError(str(exc)) from exc
    return chosen
