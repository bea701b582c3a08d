"""Embedding backends chosen by name, and the sqlite cache in front of them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.embeddings import (
    CachedEmbeddingModel,
    EmbeddingError,
    EmbeddingModel,
    Matrix,
    get_embedding_model,
)

TEXTS = [
    "La responsabilité du Prestataire est limitée au montant payé par le Client.",
    "Le contrat peut être résilié avec un préavis de trois mois.",
    "Les données personnelles sont hébergées en France.",
]


@pytest.mark.parametrize(
    ("spec", "dim"),
    [
        ("use", 512),
        pytest.param("e5", 384, marks=pytest.mark.integration),
        pytest.param("sentence-transformers:all-MiniLM-L6-v2", 384,
                     marks=pytest.mark.integration),
    ],
)
def test_registry_builds_backends(spec: str, dim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    model = get_embedding_model(spec)
    assert model.name == spec
    passages = model.embed_batch(TEXTS)
    assert passages.shape == (len(TEXTS), dim)
    assert passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    query = model.embed_query("Quel est le plafond de responsabilité ?")
    assert query.shape == (dim,)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4
    assert not np.allclose(passages[0], passages[1])
    # Same input, same vector.
    np.testing.assert_allclose(model.embed_batch(TEXTS[:1])[0], passages[0], atol=1e-5)


@pytest.mark.parametrize("spec", ["openai", "bert-base", "USE", ""])
def test_unknown_backend_says_how_to_fix(spec: str) -> None:
    with pytest.raises(EmbeddingError) as info:
        get_embedding_model(spec)
    message = str(info.value)
    assert "CONTRACTQA_EMBEDDINGS" in message
    assert "use" in message and "e5" in message and "sentence-transformers:" in message


def test_sentence_transformers_without_model_says_how_to_fix() -> None:
    with pytest.raises(EmbeddingError, match="sentence-transformers:all-MiniLM-L6-v2"):
        get_embedding_model("sentence-transformers:")


class CountingModel(EmbeddingModel):
    """A real backend (deterministic vectors) that records what it is asked to embed."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            rng = np.random.default_rng(abs(hash((text, query))) % (2**32))
            rows.append(rng.standard_normal(8))
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), 8)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def sent(self) -> list[str]:
        return [t for call in self.calls for t in call]


def test_cache_returns_identical_vectors_without_calling_twice(tmp_path: Path) -> None:
    inner = CountingModel()
    cached = CachedEmbeddingModel(inner, tmp_path / "cache" / "vectors.sqlite")
    assert cached.name == "counting"
    first = cached.embed_batch(TEXTS[:2])
    assert inner.sent() == TEXTS[:2]
    second = cached.embed_batch(TEXTS)
    assert inner.sent() == [*TEXTS[:2], TEXTS[2]]  # only the new text was embedded
    np.testing.assert_array_equal(second[:2], first)
    np.testing.assert_array_equal(second, inner.embed_batch(TEXTS))
    inner.calls.clear()
    again = cached.embed_batch(list(reversed(TEXTS)))
    assert inner.calls == []
    np.testing.assert_array_equal(again, second[::-1])


def test_cache_persists_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    vectors = CachedEmbeddingModel(CountingModel(), path).embed_batch(TEXTS)
    inner = CountingModel()
    reopened = CachedEmbeddingModel(inner, path)
    np.testing.assert_array_equal(reopened.embed_batch(TEXTS), vectors)
    assert inner.calls == []


def test_cache_keeps_queries_and_passages_apart(tmp_path: Path) -> None:
    inner = CountingModel()
    cached = CachedEmbeddingModel(inner, tmp_path / "vectors.sqlite")
    passage = cached.embed_batch(TEXTS[:1])[0]
    query = cached.embed_query(TEXTS[0])
    assert len(inner.calls) == 2
    assert not np.array_equal(passage, query)
    np.testing.assert_array_equal(cached.embed_query(TEXTS[0]), query)
    assert len(inner.calls) == 2


def test_cache_sends_a_repeated_text_once(tmp_path: Path) -> None:
    """The same text twice in one batch is embedded once (both rows get the vector)."""
    inner = CountingModel()
    cached = CachedEmbeddingModel(inner, tmp_path / "vectors.sqlite")
    vectors = cached.embed_batch([TEXTS[0], TEXTS[1], TEXTS[0]])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert sorted(inner.sent()) == sorted(TEXTS[:2])


def test_registry_wraps_backend_with_cache(tmp_path: Path) -> None:
    model = get_embedding_model("use", cache_dir=tmp_path)
    assert isinstance(model, CachedEmbeddingModel)
    assert model.name == "use"
    vectors = model.embed_batch(TEXTS)
    assert list(tmp_path.glob("embeddings-*.sqlite"))
    np.testing.assert_array_equal(model.embed_batch(TEXTS), vectors)
    np.testing.assert_allclose(model.inner.embed_batch(TEXTS), vectors, atol=1e-5)


def test_cache_shared_by_many_threads(tmp_path: Path) -> None:
    """A server's threads share one cache: reads and writes never collide (they once did)."""
    cached = CachedEmbeddingModel(CountingModel(), tmp_path / "vectors.sqlite")
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def embed(worker: int) -> None:
        start.wait()
        try:
            for round_ in range(40):
                texts = [*TEXTS, f"question {worker} {round_}", f"question {round_}"]
                assert cached.embed_batch(texts, query=True).shape == (5, 8)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=embed, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
