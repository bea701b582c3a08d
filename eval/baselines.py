"""Baselines measured on the same questions: the tutorial RAG setup and ablations of ours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from contractqa.settings import Settings
from eval.metrics import CORPORA, GoldQuestion
from eval.types import EvalConfig, EvalResult
from ingest.embeddings import EmbeddingModel, get_embedding_model
from ingest.loaders import load
from ingest.pipeline import expand
from retrieval.models import Answer, Citation

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection


MINILM = "sentence-transformers:all-MiniLM-L6-v2"
CHUNK_CHARS = 1000
OVERLAP = 200


def char_chunks(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP) -> list[str]:
    """Fixed-size character windows with overlap (RecursiveCharacterTextSplitter-less)."""
    if size <= overlap:
        raise ValueError("chunk size must exceed the overlap")
    step = size - overlap
    return [text[i: i + size] for i in range(0, max(len(text) - overlap, 1), step)
            if text[i: i + size].strip()]


@dataclass
class TutorialRAG:
    """Fixed 1000-character chunks, MiniLM, top-k dense only, no routing, document labels only."""

    collection: Collection
    embedder: EmbeddingModel
    titles: dict[str, str]
    top_k: int = 10

    @classmethod
    def build(cls, settings: Settings) -> TutorialRAG:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path = settings.data_dir / "tutorial-baseline"
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_or_create_collection(
            "tutorial-minilm", embedding_function=None, metadata={"hnsw:space": "cosine"})
        embedder = get_embedding_model(MINILM, settings.cache_dir)
        rag = cls(collection, embedder, {})
        rag.ingest()
        return rag

    def ingest(self) -> None:
        for path in expand(list(CORPORA.values())):
            loaded = load(path)
            doc = loaded.document_id
            self.titles[doc] = doc
            found = self.collection.get(where={"document_id": doc}, limit=1)
            metas = found["metadatas"] or []
            if metas and metas[0].get("hash") == loaded.content_hash:
                continue
            self.collection.delete(where={"document_id": doc})
            chunks = char_chunks(loaded.text)
            vectors = self.embedder.embed_batch(chunks)
            self.collection.add(
                ids=[f"{doc}:{i}" for i in range(len(chunks))], documents=chunks,
                embeddings=[v.tolist() for v in vectors],
                metadatas=[{"document_id": doc, "hash": loaded.content_hash}] * len(chunks))

    def answer(self, question: str) -> Answer:
        vector = self.embedder.embed_query(question)
        found = self.collection.query(query_embeddings=[vector.tolist()], n_results=self.top_k)
        docs = (found["documents"] or [[]])[0]
        metas = (found["metadatas"] or [[]])[0]
        dists = (found["distances"] or [[]])[0]
        citations = [
            Citation(n=i, document_id=str(m["document_id"]),
                     document_title=str(m["document_id"]), section=None, article=None,
                     heading=None, pages=[], excerpt=text, score=round(1 - float(d), 4))
            for i, (text, m, d) in enumerate(zip(docs, metas, dists, strict=True), start=1)
        ]
        text = "\n\n".join(f"« {c.excerpt} » [{c.n}]" for c in citations[:3])
        return Answer(question, text, False, "extractive", citations)


# The runner's `evaluate`, handed in: the baselines never import the runner.
Evaluate = Callable[[Settings, list[GoldQuestion], EvalConfig], EvalResult]


def baseline_configs() -> list[EvalConfig]:
    return [
        EvalConfig("tutorial (1000 chars, MiniLM, dense)", MINILM, "dense", False, tutorial=True),
        EvalConfig("bm25 only, no routing", None, "bm25", False),
        EvalConfig("dense only, no routing", None, "dense", False),
        EvalConfig("hybrid, no routing", None, "hybrid", False),
        EvalConfig("full pipeline, use", "use", "hybrid", True),
        EvalConfig("full pipeline, e5", "e5", "hybrid", True),
        EvalConfig("full pipeline, MiniLM", MINILM, "hybrid", True),
    ]


def run_baselines(settings: Settings, questions: list[GoldQuestion], evaluate: Evaluate,
                  default: EvalResult | None = None, log: TextIO | None = None
                  ) -> list[EvalResult]:
    """Every baseline configuration on the same questions; the default run is reused."""
    results: list[EvalResult] = []
    for config in baseline_configs():
        same_as_default = (default is not None and not config.tutorial and config.routing
                           and config.mode == "hybrid"
                           and (config.embeddings or settings.embeddings) == settings.embeddings)
        if same_as_default and default is not None:
            results.append(default.__class__(config, default.records, default.metrics,
                                             default.seconds))
        else:
            results.append(evaluate(settings, questions, config))
        if log:
            overall = results[-1].metrics["overall"]
            print(f"  {config.name}: hit@5 {overall['hit@5']} ({results[-1].seconds} s)",
                  file=log)
    return results


BASELINE_COLUMNS = ("hit@5", "mrr@10", "citation_accuracy", "abstention_recall",
                    "false_refusal_rate")


def baseline_rows(results: list[EvalResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        row: dict[str, Any] = {"configuration": r.config.name}
        for scope, m in [("all", r.metrics["overall"]), *r.metrics["by_corpus"].items()]:
            for c in BASELINE_COLUMNS:
                row[f"{scope}:{c}"] = m.get(c)
        rows.append(row)
    return rows
