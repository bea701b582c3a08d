"""Chroma is the source of truth: chunks with their vectors, and one record per document.

A document is written in three steps so that an interrupted ingest never leaves half a
document visible: (1) upsert its chunks tagged with the document's content hash, (2) upsert the
document record (the commit), (3) delete chunks of older versions. Reads only see chunks whose
hash matches a committed record; `collect_garbage` removes the rest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from ingest.locking import ReadWriteLock
from ingest.models import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

_BATCH = 256
# Rows per get(): far under SQLite's 32,766 bound variables, few round trips for the samples.
_PAGE = 5000
# Contract corpora are small: a wide search and one build thread make dense results exact in
# practice and the same from one run to the next (the eval gate depends on it).
_HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 200, "hnsw:search_ef": 200,
         "hnsw:num_threads": 1}
_METADATA: dict[str, dict[str, Any] | None] = {"chunks": _HNSW, "documents": None}


@dataclass
class DocumentRecord:
    """What is known of one indexed document (stored as the commit record)."""

    document_id: str
    title: str
    source: str
    content_hash: str
    chunks: int
    articles: int
    sections: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    fallback: bool = False
    ingested_at: str = ""
    outline: list[dict[str, Any]] = field(default_factory=list)
    pipeline_version: str = ""
    origin: str = ""  # the file's absolute path; two files never share an id silently
    # The matters (dossiers) the contract belongs to; none: the default matter, whatever the
    # app calls it (records written before matters existed).
    matters: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("outline")
        return data


def _none(value: Any) -> Any:
    return None if value in ("", None) else value


def chunk_from_stored(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        document_id=str(meta["document_id"]),
        document_title=str(meta.get("document_title", "")),
        section=_none(meta.get("section")),
        article=_none(meta.get("article")),
        heading=_none(meta.get("heading")),
        text=text,
        context=str(meta.get("context", "")),
        pages=tuple(int(p) for p in str(meta.get("pages", "")).split(",") if p),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        part=int(meta.get("part", 1)),
        parts=int(meta.get("parts", 1)),
    )


@dataclass(frozen=True)
class StoreConfig:
    """Where the index lives: an embedded Chroma in `chroma_dir`, or a Chroma server."""

    chroma_dir: Path
    collection: str = "contracts"
    chroma_url: str | None = None

    def __post_init__(self) -> None:
        if not self.collection:
            raise ValueError("collection name must not be empty")


def _record_metadata(record: DocumentRecord) -> dict[str, str]:
    """What a record's row carries besides its JSON: what tells another process it changed."""
    return {"content_hash": record.content_hash, "pipeline": record.pipeline_version,
            "matters": "+".join(record.matters)}


class ChunkStore:
    """Chunks and document records in Chroma (embedded on disk, or a Chroma server)."""

    def __init__(self, client: ClientAPI, collection: str,
                 reopen: Callable[[], ClientAPI] | None = None) -> None:
        """`reopen` builds a fresh client: given for an embedded store, whose in-memory vector
        index does not see what another process wrote (queries then fail on unknown ids)."""
        if not collection:
            raise ValueError("collection name must not be empty")
        self.client = client
        self.name = collection
        self._reopen = reopen
        self._lock = threading.RLock()
        self._client_lock = ReadWriteLock()  # queries share the client; reopening is alone
        self._cache: tuple[dict[str, DocumentRecord], list[Chunk]] | None = None
        self._collections: dict[str, Collection] = {}
        self._known: str | None = None  # the stored fingerprint this client is up to date with

    @classmethod
    def open(cls, config: StoreConfig, embedder_name: str) -> ChunkStore:
        """The store of `config`, in the collection of the embedder whose vectors it holds."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if config.chroma_url:
            url = urlparse(config.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            reopen = None
        else:
            config.chroma_dir.mkdir(parents=True, exist_ok=True)
            path = str(config.chroma_dir)

            def reopen() -> ClientAPI:
                return chromadb.PersistentClient(path=path, settings=chroma_settings)

            client = reopen()
        suffix = "".join(c if c.isalnum() else "-" for c in embedder_name)
        return cls(client, f"{config.collection}-{suffix}"[:60].strip("-"), reopen)

    # Collections -----------------------------------------------------------------------------
    def _collection(self, suffix: str, metadata: dict[str, Any] | None) -> Collection:
        """The collection, opened once per client (creating it is a write: done once)."""
        collection = self._collections.get(suffix)
        if collection is None:
            collection = self.client.get_or_create_collection(
                f"{self.name}-{suffix}", embedding_function=None, metadata=metadata)
            self._collections[suffix] = collection
        return collection

    @property
    def chunks_collection(self) -> Collection:
        return self._collection("chunks", _METADATA["chunks"])

    @property
    def documents_collection(self) -> Collection:
        return self._collection("documents", _METADATA["documents"])

    # Reads -----------------------------------------------------------------------------------
    def _load(self) -> tuple[dict[str, DocumentRecord], list[Chunk]]:
        cache = self._cache  # without the lock: questions keep answering while a large
        if cache is not None:  # document is written (they see the index as it was before)
            return cache
        with self._lock:
            if self._cache is None:
                records = self._read_records()
                hashes = {r.content_hash for r in records.values()}
                got = self._get_all("chunks", ["documents", "metadatas"])
                chunks = [
                    chunk_from_stored(cid, text or "", dict(meta or {}))
                    for cid, text, meta in zip(got["ids"], got["documents"],
                                               got["metadatas"], strict=True)
                    if meta and meta.get("doc_hash") in hashes
                ]
                chunks.sort(key=lambda c: (c.document_id, c.start, c.part))
                self._cache = (records, chunks)
            return self._cache

    def _get_all(self, suffix: str, include: list[str]) -> dict[str, list[Any]]:
        """Every row, `_PAGE` at a time: one get() past SQLite's 32,766 variables fails.

        The collection is looked up under the client lock at each page: a reopen in between
        closes the client it came from.
        """
        rows: dict[str, list[Any]] = {"ids": [], **{name: [] for name in include}}
        while True:
            with self._client_lock.reading():
                collection = self._collection(suffix, _METADATA[suffix])
                got: Any = collection.get(include=include,  # type: ignore[arg-type]
                                          limit=_PAGE, offset=len(rows["ids"]))
            for name in rows:
                rows[name].extend(got[name] or [None] * len(got["ids"]))
            if len(got["ids"]) < _PAGE:
                return rows

    def _read_records(self) -> dict[str, DocumentRecord]:
        got = self._get_all("documents", ["documents"])
        records: dict[str, DocumentRecord] = {}
        for text in got["documents"]:
            record = DocumentRecord(**json.loads(text))
            records[record.document_id] = record
        return records

    def invalidate(self) -> None:
        with self._lock:
            self._cache = None

    def records(self) -> dict[str, DocumentRecord]:
        return self._load()[0]

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.records().values(), key=lambda r: r.document_id)

    def chunks(self) -> list[Chunk]:
        return self._load()[1]

    def fingerprint(self) -> str:
        """What the loaded records are: ids, content hashes and pipeline versions."""
        records = self.records()
        return "|".join(f"{k}:{records[k].content_hash}:{records[k].pipeline_version}"
                        f":{'+'.join(records[k].matters)}" for k in sorted(records))

    def stored_fingerprint(self) -> str:
        """The same, read from Chroma now (record metadata only: cheap)."""
        got = self._get_all("documents", ["metadatas"])
        metas = {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        return "|".join(f"{k}:{metas[k].get('content_hash', '')}:{metas[k].get('pipeline', '')}"
                        f":{metas[k].get('matters', '')}" for k in sorted(metas))

    def sync(self) -> bool:
        """Catch up with writes made elsewhere (another process or server); True if any.

        An embedded client is reopened: its vector index in memory misses other processes'
        vectors. Own writes update what we know, so a difference means a write elsewhere.
        """
        if self.stored_fingerprint() == self._known:
            return False  # the usual case, without waiting for a write in progress here
        with self._lock:
            stored = self.stored_fingerprint()  # again: an own write may just have ended
            if stored == self._known:
                return False
            if self._known is not None and self._reopen is not None:
                with self._client_lock.writing():
                    log.info("index modifié par un autre processus : réouverture de Chroma")
                    # Closing the last client of a path stops its system, so the new client
                    # reads the files again instead of sharing the stale one.
                    self.client.close()  # type: ignore[attr-defined]
                    self.client = self._reopen()
                    self._collections = {}
            self._known = stored
            self.invalidate()
            return True

    def _wrote(self) -> None:
        """After an own write: what Chroma holds now is what this client knows."""
        self.invalidate()
        self._known = self.stored_fingerprint()

    def ready(self) -> bool:
        try:
            return bool(self.records())
        except Exception:  # noqa: BLE001 - health check: any store failure means "not ready"
            return False

    def find_by_hash(self, content_hash: str) -> DocumentRecord | None:
        return next((r for r in self.records().values() if r.content_hash == content_hash), None)

    def dense_search(
        self, vector: np.ndarray, k: int, document_ids: list[str] | None = None
    ) -> list[tuple[str, float]]:
        records = self.records()
        hashes = [r.content_hash for r in records.values()
                  if document_ids is None or r.document_id in document_ids]
        if not hashes:
            return []
        with self._client_lock.reading():
            result = self.chunks_collection.query(
                query_embeddings=[vector.tolist()],
                n_results=k,
                where={"doc_hash": {"$in": hashes}},  # type: ignore[dict-item]
                include=["distances"],
            )
        ids = result["ids"][0]
        distances = (result["distances"] or [[]])[0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def outline(self, document_id: str) -> list[dict[str, Any]]:
        record = self.records().get(document_id)
        if record is None:
            raise KeyError(document_id)
        return record.outline

    def article_text(self, document_id: str, section: str | None, article: str | None) -> str:
        if article is None:
            return ""
        parts = [c.text for c in self.chunks()
                 if c.document_id == document_id and c.section == section
                 and c.in_article(article)]
        return "\n\n".join(parts)

    # Writes ----------------------------------------------------------------------------------
    def write_document(self, record: DocumentRecord, chunks: list[Chunk], vectors: np.ndarray,
                       progress: Callable[[int, int], None] | None = None) -> None:
        """Write one document's chunks, then commit its record, then drop older versions.

        `progress(written, total)` hears each batch of chunks written.
        """
        with self._lock:
            with self._client_lock.reading():
                collection = self.chunks_collection
                for i in range(0, len(chunks), _BATCH):
                    batch = chunks[i: i + _BATCH]
                    collection.upsert(
                        ids=[c.chunk_id for c in batch],
                        embeddings=[v.astype(np.float32) for v in vectors[i: i + _BATCH]],
                        documents=[c.text for c in batch],
                        metadatas=[self._metadata(c, record.content_hash) for c in batch],
                    )
                    if progress is not None:
                        progress(i + len(batch), len(chunks))
                self.documents_collection.upsert(
                    ids=[record.document_id],
                    embeddings=np.zeros((1, 1), dtype=np.float32),
                    documents=[json.dumps(asdict(record), ensure_ascii=False)],
                    metadatas=[_record_metadata(record)],
                )
                stale: Any = {"$and": [{"document_id": record.document_id},
                                       {"doc_hash": {"$ne": record.content_hash}}]}
                collection.delete(where=stale)
            self._wrote()  # under the lock: sync() never takes it for a write elsewhere

    @staticmethod
    def _metadata(chunk: Chunk, content_hash: str) -> dict[str, str | int]:
        return {
            "document_id": chunk.document_id,
            "doc_hash": content_hash,
            "document_title": chunk.document_title,
            "section": chunk.section or "",
            "article": chunk.article or "",
            "heading": chunk.heading or "",
            "context": chunk.context,
            "pages": ",".join(str(p) for p in chunk.pages),
            "start": chunk.start,
            "end": chunk.end,
            "part": chunk.part,
            "parts": chunk.parts,
        }

    def set_matters(self, document_id: str, matters: list[str]) -> DocumentRecord:
        """Put an indexed contract in these matters (its passages are not rewritten)."""
        with self._lock:
            record = replace(self._read_records()[document_id], matters=sorted(set(matters)))
            with self._client_lock.reading():
                self.documents_collection.upsert(
                    ids=[record.document_id],
                    embeddings=np.zeros((1, 1), dtype=np.float32),
                    documents=[json.dumps(asdict(record), ensure_ascii=False)],
                    metadatas=[_record_metadata(record)],
                )
            self._wrote()
            return record

    def delete_document(self, document_id: str) -> bool:
        with self._lock:
            existed = document_id in self.records()
            with self._client_lock.reading():
                self.documents_collection.delete(ids=[document_id])
                self.chunks_collection.delete(where={"document_id": document_id})
            self._wrote()
            return existed

    def collect_garbage(self) -> int:
        """Delete chunks left by an interrupted ingest (no committed record matches them)."""
        with self._lock:
            hashes = {r.content_hash for r in self._read_records().values()}
            got = self._get_all("chunks", ["metadatas"])
            stale = [cid for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
                     if not meta or meta.get("doc_hash") not in hashes]
            with self._client_lock.reading():
                for i in range(0, len(stale), _BATCH):
                    self.chunks_collection.delete(ids=stale[i: i + _BATCH])
            self._wrote()
            return len(stale)

    def count_chunks(self) -> int:
        with self._client_lock.reading():
            return int(self.chunks_collection.count())
