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

from french.tokens import tokenize
from ingest.embeddings import EmbeddingModel
from ingest.lexical import LexicalIndex
from ingest.models import Chunk
from ingest.store import ChunkStore, DocumentRecord
from ingest.vocabulary import Vocabulary, VocabularyCache, vocabulary_of
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
    """Search passages of the store: dense in Chroma, lexical in the data dir's BM25 index
    (`cache_path`, a folder kept equal to the store's documents, one document at a time)."""

    def __init__(self, store: ChunkStore, embedder: EmbeddingModel, cache_path: Path,
                 config: SearchConfig | None = None, reranker: Reranker | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.cache_path = cache_path
        self.config = config or SearchConfig()
        if self.config.rerank_depth < 1:
            raise ValueError("rerank_depth must be at least 1")
        self.reranker = reranker
        self.vocabulary_cache = VocabularyCache(cache_path.parent / "vocabulary")
        self._index: LexicalIndex | None = None
        self._synced: str | None = None  # the store fingerprint the index holds
        self._rebuild = threading.Lock()  # one sync per index change, whatever the threads

    def refresh(self) -> None:
        """After the store changed: nothing to reread. The store keeps its records current (own
        writes patch them, `ChunkStore.sync` rereads after others'), and the lexical index
        follows the store's fingerprint, document by document."""

    def _ensure(self) -> LexicalIndex:
        """The lexical index, holding the store's current documents."""
        fingerprint = self.store.fingerprint()
        index = self._index
        if index is not None and self._synced == fingerprint:
            return index
        with self._rebuild:
            if self._index is None:
                self._index = LexicalIndex(self.cache_path)
            if self._synced != fingerprint:
                records = self.store.records()
                if self._index.sync(records.values(), self._read):
                    self.vocabulary_cache.drop(self._index.removed)
                self._synced = fingerprint
            return self._index

    def _read(self, document_id: str) -> list[Chunk]:
        """A document's passages for the lexical index; its vocabulary is kept on the way."""
        chunks = self.store.document_chunks(document_id)
        record = self.store.records().get(document_id)
        if record is not None and chunks:
            self.vocabulary_cache.put(record.version,
                                      vocabulary_of(c.indexed_text for c in chunks))
        return chunks

    def vocabularies(self) -> dict[str, Vocabulary]:
        """Each indexed document's vocabulary (computed once per version, kept on disk)."""
        self._ensure()
        found = {r.document_id: self.vocabulary(r) for r in self.store.documents()}
        return {d: v for d, v in found.items() if v is not None}

    def vocabulary(self, record: DocumentRecord) -> Vocabulary | None:
        """One document's vocabulary (None when it has no passage): from the disk cache, else
        from its passages, then kept."""
        vocabulary = self.vocabulary_cache.get(record.version)
        if vocabulary is None:
            chunks = self.store.document_chunks(record.document_id)
            if not chunks:
                return None
            vocabulary = vocabulary_of(c.indexed_text for c in chunks)
            self.vocabulary_cache.put(record.version, vocabulary)
        return vocabulary

    def lexical(self) -> LexicalIndex:
        """The BM25 index matching the store (its idf weights serve answer scoring too)."""
        return self._ensure()

    def containing(self, words: str, documents: list[str] | None = None) -> list[Chunk]:
        """The passages holding every word of `words` (in `documents` when given). A term of
        stopwords only ("Contrat") is in no index: the passages of the documents asked, else of
        those closest to it in meaning (at most `depth` documents), are given instead."""
        index = self._ensure()
        if tokenize(words):
            return list(self.store.chunks_by_id(index.containing(words, documents)).values())
        if documents is None:
            found = self.store.dense_search(self.embedder.embed_query(words), self.config.depth)
            documents = list(dict.fromkeys(c.document_id for c, _score in found))
        return [c for d in documents for c in self.store.document_chunks(d)]

    def search(self, query: str, k: int = 10, documents: list[str] | None = None,
               sections: dict[str, str] | None = None) -> list[Scored]:
        index = self._ensure()
        config = self.config
        if documents is not None:
            records = self.store.records()
            documents = [d for d in documents if d in records]
            if not documents:
                return []
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        by_id: dict[str, Chunk] = {}
        if config.mode in ("hybrid", "dense"):
            vector = self.embedder.embed_query(query)
            found = self.store.dense_search(vector, config.depth, documents)
            dense = [(c.chunk_id, score) for c, score in found]
            by_id.update((c.chunk_id, c) for c, _score in found)
        if config.mode in ("hybrid", "bm25"):
            lexical = index.search(query, config.depth, documents)
            by_id.update(self.store.chunks_by_id(cid for cid, _s in lexical if cid not in by_id))
        return self._rank(query, k, by_id, dense, lexical, sections)

    def _rank(self, query: str, k: int, by_id: dict[str, Chunk], dense: list[tuple[str, float]],
              lexical: list[tuple[str, float]], sections: dict[str, str] | None
              ) -> list[Scored]:
        """Fuse the two lists by reciprocal rank, boost, rerank, keep `k`."""
        config = self.config
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
        return [c for c in self.store.document_chunks(document_id)
                if c.in_article(article) and (section is None or c.section == section)]


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
