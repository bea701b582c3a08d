"""The plain LangChain + Chroma pipeline of `contractqa bench scale`, at the same N.

What a tutorial builds: `langchain_chroma.Chroma` over the same generated contracts, cut in
1,000-character windows overlapping by 200, the same hash embedder, a top-5 similarity search
for each question, no lexical index, no routing. Its collection sits beside ours (embedded in
the data dir, or `plain-<name>` on the same Chroma server); its ingest resumes by id, a batch
of files at a time. It measures what ours does: a question naming a client (p50/p95, and
whether the first passage is that client's), a question naming none, adding and deleting one
contract, the process's memory.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

from eval.baselines import char_chunks
from eval.numbers import percentile

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from ingest.embeddings import EmbeddingModel

BATCH = 200  # files per add_texts call while ingesting
TOP_K = 5


class LangChainEmbeddings(Embeddings):
    """One of our embedders behind LangChain's interface (the plain pipeline's)."""

    def __init__(self, model: EmbeddingModel) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [row.tolist() for row in self.model.embed_batch(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(self.model.embed_batch([text], query=True)[0].tolist())


def open_plain(data_dir: Path, chroma_url: str | None, model: EmbeddingModel) -> Chroma:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    chroma = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        client = chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                     settings=chroma)
    else:
        client = chromadb.PersistentClient(path=str(data_dir / "plain-chroma"), settings=chroma)
    return Chroma(collection_name=f"plain-{data_dir.name}", client=client,
                  embedding_function=LangChainEmbeddings(model),
                  collection_metadata={"hnsw:space": "cosine"})


def _chunks(path: Path) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    texts = char_chunks(path.read_text(encoding="utf-8"))
    ids = [f"{path.stem}:{i}" for i in range(len(texts))]
    return texts, ids, [{"document_id": path.stem}] * len(texts)


def add(store: Chroma, paths: Sequence[Path]) -> int:
    """Index `paths` in one call; the number of windows."""
    texts: list[str] = []
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    for path in paths:
        t, i, m = _chunks(path)
        texts += t
        ids += i
        metas += m
    store.add_texts(texts, metadatas=metas, ids=ids)
    return len(texts)


def ingest(store: Chroma, paths: Sequence[Path]) -> int:
    """Index the files whose first window is not stored yet, BATCH at a time; how many."""
    done = 0
    for first in range(0, len(paths), BATCH):
        batch = list(paths[first:first + BATCH])
        stored = set(store.get(ids=[f"{p.stem}:0" for p in batch], include=[])["ids"])
        todo = [p for p in batch if f"{p.stem}:0" not in stored]
        if todo:
            add(store, todo)
            done += len(todo)
    return done


def measure(store: Chroma, named: Sequence[tuple[str, str]], unnamed: Sequence[str],
            new: Path, timed: Any) -> dict[str, Any]:
    """`named`: (question, the document it names); `timed(f)` -> (seconds, f())."""
    routed = []
    for question, document in named:
        took, found = timed(lambda q=question: store.similarity_search(q, k=TOP_K))
        routed.append((took, bool(found) and found[0].metadata["document_id"] == document))
    unrouted = [timed(lambda q=q: store.similarity_search(q, k=TOP_K))[0] for q in unnamed]
    added, _n = timed(lambda: add(store, [new]))
    ids = _chunks(new)[1]
    deleted, _none = timed(lambda: store.delete(ids=ids))
    times = [t for t, _ok in routed]
    return {
        "passages": store._collection.count(),
        "warm_question_ms": round(statistics.median(times) * 1000, 1),
        "routed_p95_ms": round((percentile(times, 0.95) or 0.0) * 1000, 1),
        "first_passage_of_the_named_contract": sum(ok for _t, ok in routed),
        "routed_questions": len(routed),
        "unrouted_p50_ms": round(statistics.median(unrouted) * 1000, 1),
        "unrouted_p95_ms": round((percentile(unrouted, 0.95) or 0.0) * 1000, 1),
        "add_one_s": round(added, 3),
        "delete_one_s": round(deleted, 3),
    }
