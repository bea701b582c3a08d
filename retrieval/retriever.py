"""Hybrid retrieval: dense search in Chroma plus French BM25, fused by reciprocal rank."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ingest.embeddings import EmbeddingModel
from ingest.lexical import BM25Index, load_or_build
from ingest.models import Chunk
from ingest.store import ChunkStore
from retrieval.answer_type import ExpectedAnswer
from retrieval.rerank import Reranker

SearchMode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class Scored:
    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    relevance: float | None = None  # the reranker's score (0 to 1), when one is configured


@dataclass(frozen=True)
class _LexicalState:
    """The chunks and their BM25 index for one store fingerprint, swapped in as a whole."""

    fingerprint: str
    index: BM25Index
    by_id: dict[str, Chunk]


@dataclass(frozen=True)
class SearchConfig:
    """How to search; the eval switches these to measure each part."""

    mode: SearchMode = "hybrid"
    depth: int = 40  # candidates taken from each list before fusion
    rrf_k: int = 30  # measured on the gold set (2026-12-02): 30 ranks a little better than 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.5
    section_boost: float = 1.5
    answer_type_boost: float = 0.1  # for clauses holding the kind of value asked (0: off)
    rerank_depth: int = 20  # fused candidates the answer-type boost and the reranker look at


class HybridSearch:
    """Search chunks of the store; the lexical index is a cache rebuilt from Chroma."""

    def __init__(self, store: ChunkStore, embedder: EmbeddingModel, cache_path: Path,
                 config: SearchConfig | None = None, reranker: Reranker | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.cache_path = cache_path
        self.config = config or SearchConfig()
        if self.config.rerank_depth < 1:
            raise ValueError("rerank_depth must be at least 1")
        self.reranker = reranker
        self._state: _LexicalState | None = None
        self._rebuild = threading.Lock()  # one rebuild per index change, whatever the threads

    def refresh(self) -> None:
        """Reload chunks after the store changed (the index is rebuilt if its content did)."""
        self.store.invalidate()

    def _ensure(self) -> _LexicalState:
        """The chunks and BM25 index of the store's current content (one consistent pair)."""
        fingerprint = self.store.fingerprint()
        state = self._state
        if state is not None and state.fingerprint == fingerprint:
            return state
        with self._rebuild:
            state = self._state
            if state is None or state.fingerprint != fingerprint:
                chunks = self.store.chunks()
                index = load_or_build(self.cache_path, fingerprint, chunks)
                state = _LexicalState(fingerprint, index, {c.chunk_id: c for c in chunks})
                self._state = state
            return state

    def lexical(self) -> BM25Index:
        """The BM25 index matching the store (its idf weights serve answer scoring too)."""
        return self._ensure().index

    def chunk(self, chunk_id: str) -> Chunk:
        return self._ensure().by_id[chunk_id]

    def chunks(self) -> list[Chunk]:
        return list(self._ensure().by_id.values())

    def search(self, query: str, k: int = 10, documents: list[str] | None = None,
               sections: dict[str, str] | None = None) -> list[Scored]:
        state = self._ensure()
        index, by_id = state.index, state.by_id
        config = self.config
        allowed = None
        if documents is not None:
            allowed = {cid for cid, c in by_id.items() if c.document_id in documents}
            if not allowed:
                return []
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if config.mode in ("hybrid", "dense"):
            vector = self.embedder.embed_query(query)
            dense = self.store.dense_search(vector, config.depth, documents)
        if config.mode in ("hybrid", "bm25"):
            lexical = index.search(query, config.depth, allowed)
        fused: dict[str, float] = {}
        dense_score = dict(dense)
        lexical_score = dict(lexical)
        for weight, ranked in ((config.dense_weight, dense), (config.lexical_weight, lexical)):
            for rank, (cid, _score) in enumerate(ranked):
                if cid in by_id:
                    fused[cid] = fused.get(cid, 0.0) + weight / (config.rrf_k + rank + 1)
        if sections:
            for cid in fused:
                chunk = by_id[cid]
                if sections.get(chunk.document_id) == chunk.section:
                    fused[cid] *= config.section_boost
        ranked_ids = sorted(fused, key=lambda cid: (-fused[cid], cid))
        expected = ExpectedAnswer.of(query) if config.answer_type_boost else None
        if expected and expected.kinds:
            for cid in ranked_ids[: max(k, config.rerank_depth)]:
                if expected.held_by(by_id[cid].text):
                    fused[cid] *= 1 + config.answer_type_boost
            ranked_ids.sort(key=lambda cid: (-fused[cid], cid))
        relevance = self._rerank(query, [by_id[cid] for cid in
                                         ranked_ids[: max(k, config.rerank_depth)]])
        if relevance:
            ranked_ids.sort(key=lambda cid: (-relevance.get(cid, -1.0), -fused[cid], cid))
        ranked_ids = ranked_ids[:k]
        # The score is what the ranking followed: the reranker's relevance when there is one.
        return [Scored(by_id[cid], relevance.get(cid, fused[cid]),
                       dense_score.get(cid, 0.0), lexical_score.get(cid, 0.0),
                       relevance.get(cid)) for cid in ranked_ids]

    def _rerank(self, query: str, chunks: list[Chunk]) -> dict[str, float]:
        """The reranker's relevance of each candidate (empty without a reranker)."""
        if self.reranker is None or not chunks:
            return {}
        passages = [c.indexed_text for c in chunks]
        return dict(zip([c.chunk_id for c in chunks],
                        self.reranker.score_pairs(query, passages), strict=True))

    def lookup(self, document_id: str, article: str, section: str | None = None) -> list[Chunk]:
        """All chunks of an article (and its sub-articles), in reading order."""
        found = [
            c for c in self._ensure().by_id.values()
            if c.document_id == document_id and c.in_article(article)
            and (section is None or c.section == section)
        ]
        return sorted(found, key=lambda c: (c.start, c.part))


def to_document(scored: Scored) -> Document:
    chunk = scored.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id, "document_id": chunk.document_id,
            "document_title": chunk.document_title, "section": chunk.section,
            "article": chunk.article, "heading": chunk.heading, "pages": list(chunk.pages),
            "score": scored.score,
        },
    )


class ContractRetriever(BaseRetriever):
    """LangChain retriever over the hybrid search (documents carry article metadata)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch
    k: int = 6
    documents: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [to_document(s) for s in self.search.search(query, self.k, self.documents)]
