"""Chroma is the source of truth: chunks with their vectors, and one record per document.

A document is written in three steps so that an interrupted ingest never leaves half a
document visible: (1) upsert its chunks tagged with the document's content hash, (2) upsert the
document record (the commit), (3) delete chunks of older versions. Reads only see chunks whose
hash matches a committed record; `collect_garbage` removes the rest (a write marks its document
pending first, so the rest is found without reading the collection).

Nothing reads the whole chunk collection: passages are read by document (`where` on its id) or
by id, `_PAGE` rows at a time. Document records (one small row each) are read whole once, then
kept up to date by each own write; a version stamp, one row rewritten by every write, tells
whether another process or server wrote since (one read, whatever the corpus).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import numpy as np
from filelock import FileLock

from ingest.locking import ReadWriteLock
from ingest.models import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

_BATCH = 256
# Rows per get(): far under SQLite's 32,766 bound variables, few round trips for the samples.
_PAGE = 5000
# A search restricted to contracts holding at most this many passages in all is scored here,
# exactly, on their vectors (read once per version and kept with their passages), not by a
# filtered Chroma query: that query's cost grows with the collection (25 of the 40 ms of a
# warm routed question at 1,000 generated contracts, embedded; docs/figures.md, issue 19).
EXACT_PASSAGES = 4000
# Contract corpora are small: a wide search and one build thread make dense results exact in
# practice and the same from one run to the next (the eval gate depends on it).
_HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 200, "hnsw:search_ef": 200,
         "hnsw:num_threads": 1}
_METADATA: dict[str, dict[str, Any] | None] = {"chunks": _HNSW, "documents": None,
                                               "meta": None, "pending": None}
_T = TypeVar("_T")
_VERSION = "version"  # the id of the version stamp's row in the meta collection
# The change log, beside the stamp in the meta collection: one row per document a write is
# about to change, its time (ns, the writer's clock), so that another process or server reads
# those records again, not every record (3.1 s at 10,000 contracts through a Chroma server,
# against 0.84 s for their metadata alone; docs/figures.md, issue 19). Rows older than
# _LOG_KEEP_NS are removed by writers; a reader that last looked before that reads every
# record, and each looks back _LOG_MARGIN_NS further than its last look (clocks of several
# machines differ).
_LOG_PREFIX = "change:"
_LOG_KEEP_NS = 24 * 3600 * 10**9
_LOG_MARGIN_NS = 300 * 10**9
# Documents whose passages a process keeps in memory (lookups, article texts): a contract is
# 30 to 300 passages, about 0.1 to 1 MB (the samples and the pool, 2026-12).
CACHED_DOCUMENTS = 32
# Passages kept by id for search results (about 3 KB each with their metadata: 30 MB): the
# eval's 340 questions over 765 passages then read each passage once.
CACHED_PASSAGES = 10_000


class StoreError(Exception):
    """Chroma failed: a French message naming where the index is and what to do."""


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
    # app calls it (records written before matters existed). Kept in the row's metadata.
    matters: list[str] = field(default_factory=list)
    # Of the file's bytes: an unchanged file is skipped without reading it. Kept in the row's
    # metadata, not in its JSON, which the previous version reads with no unknown field.
    file_hash: str = ""

    @property
    def version(self) -> str:
        """What its passages are made of: its content and the pipeline that cut them."""
        return f"{self.content_hash}-{self.pipeline_version}"

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("outline")
        data.pop("file_hash")
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
    """Where the index lives: an embedded Chroma in `chroma_dir`, or a Chroma server; and
    what a process keeps in memory of it (documents' passages, passages by id)."""

    chroma_dir: Path
    collection: str = "contracts"
    chroma_url: str | None = None
    cached_documents: int = CACHED_DOCUMENTS
    cached_passages: int = CACHED_PASSAGES

    def __post_init__(self) -> None:
        if not self.collection:
            raise ValueError("collection name must not be empty")


@dataclass(frozen=True, eq=False)
class DocumentWrite:
    """One document to write: its record, chunks and their vectors (one row each), and who
    hears `progress(written, total)` as its chunks are written."""

    record: DocumentRecord
    chunks: list[Chunk]
    vectors: np.ndarray
    progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        if len(self.chunks) != len(self.vectors):
            raise ValueError(f"{len(self.chunks)} chunks but {len(self.vectors)} vectors")


def _record_metadata(record: DocumentRecord) -> dict[str, str]:
    """What a record's row carries besides its JSON (read without parsing it)."""
    return {"content_hash": record.content_hash, "pipeline": record.pipeline_version,
            "file_hash": record.file_hash, "matters": "+".join(record.matters)}


class ChunkStore:
    """Chunks and document records in Chroma (embedded on disk, or a Chroma server)."""

    def __init__(self, client: ClientAPI, collection: str,
                 reopen: Callable[[], ClientAPI] | None = None,
                 cached_documents: int = CACHED_DOCUMENTS,
                 cached_passages: int = CACHED_PASSAGES) -> None:
        """`reopen` builds a fresh client: given for an embedded store, whose in-memory vector
        index does not see what another process wrote (queries then fail on unknown ids).
        `cached_documents` and `cached_passages` bound what stays in memory: a server's memory
        does not grow with the corpus."""
        if not collection:
            raise ValueError("collection name must not be empty")
        self.client = client
        self.name = collection
        self._reopen = reopen
        self._lock = threading.RLock()
        self._client_lock = ReadWriteLock()  # queries share the client; reopening is alone
        self._records: dict[str, DocumentRecord] | None = None
        self._fingerprint = ""
        self._passages: OrderedDict[tuple[str, str], list[Chunk]] = OrderedDict()
        self._by_id: OrderedDict[str, tuple[str, Chunk]] = OrderedDict()  # id: (version, chunk)
        # (document, version): its committed passages' ids and unit vectors, as `_passages`
        self._vectors: OrderedDict[tuple[str, str], tuple[list[str], np.ndarray]] = OrderedDict()
        self._cached_documents = cached_documents
        self._cached_passages = cached_passages
        self._collections: dict[str, Collection] = {}
        self._known: str | None = None  # the stored version stamp this client is up to date with
        self._looked: int | None = None  # when (ns) the records were last read or caught up
        self.location = f"la collection « {collection} »"  # said in error messages

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

            # Chroma creates its tables on a first open: two processes opening a new data dir
            # at once race there ("table collections already exists", seen in CI with two CLI
            # ingests), so opening is one process at a time.
            with FileLock(f"{path}.open.lock"):
                client = reopen()
        suffix = "".join(c if c.isalnum() else "-" for c in embedder_name)
        store = cls(client, f"{config.collection}-{suffix}"[:60].strip("-"), reopen,
                    config.cached_documents, config.cached_passages)
        store.location = (f"le serveur Chroma {config.chroma_url}" if config.chroma_url
                          else f"le dossier {config.chroma_dir}")
        return store

    @contextmanager
    def failing(self, action: str) -> Iterator[None]:
        """Turn a failure of Chroma into a `StoreError` saying where and what to do."""
        from chromadb.errors import ChromaError

        try:
            yield
        except (ChromaError, ConnectionError, OSError, ValueError) as exc:
            log.exception("Chroma failed while %s", action)
            raise StoreError(
                f"L'index des contrats ({self.location}) n'a pas pu être lu ou écrit pendant "
                f"« {action} » : {str(exc)[:200]}. Vérifiez que le serveur Chroma tourne ou que "
                "le dossier est accessible en écriture ; si l'index est endommagé, supprimez ce "
                "dossier puis indexez à nouveau les contrats (contractqa ingest DOSSIER)."
            ) from exc

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

    @property
    def meta_collection(self) -> Collection:
        """One row: the version stamp (written by this version; absent in older data dirs)."""
        return self._collection("meta", _METADATA["meta"])

    @property
    def pending_collection(self) -> Collection:
        """One row per document being written or deleted, removed when done."""
        return self._collection("pending", _METADATA["pending"])

    # Reads -----------------------------------------------------------------------------------
    def _get(self, suffix: str, include: list[str], where: dict[str, Any] | None = None,
             ids: list[str] | None = None) -> dict[str, list[Any]]:
        """The rows matching `where` or `ids`, `_PAGE` at a time: one get() past SQLite's 32,766
        variables fails.

        The collection is looked up under the client lock at each page: a reopen in between
        closes the client it came from.
        """
        with self.failing("la lecture de l'index"):
            return self._get_pages(suffix, include, where, ids)

    def _get_pages(self, suffix: str, include: list[str], where: dict[str, Any] | None,
                   ids: list[str] | None) -> dict[str, list[Any]]:
        rows: dict[str, list[Any]] = {"ids": [], **{name: [] for name in include}}
        if ids is not None:
            for start in range(0, len(ids), _PAGE):
                with self._client_lock.reading():
                    collection = self._collection(suffix, _METADATA[suffix])
                    got: Any = collection.get(ids=ids[start: start + _PAGE],
                                              include=include)  # type: ignore[arg-type]
                _extend(rows, got)
            return rows
        while True:
            with self._client_lock.reading():
                collection = self._collection(suffix, _METADATA[suffix])
                got = collection.get(where=where, include=include,  # type: ignore[arg-type]
                                     limit=_PAGE, offset=len(rows["ids"]))
            _extend(rows, got)
            if len(got["ids"]) < _PAGE:
                return rows

    def _read_records(self, ids: list[str] | None = None) -> dict[str, DocumentRecord]:
        """Every record, or those of `ids` (the absent ones left out)."""
        self._looked = time.time_ns() if ids is None else self._looked
        got = self._get("documents", ["documents", "metadatas"], ids=ids)
        records: dict[str, DocumentRecord] = {}
        for text, meta in zip(got["documents"], got["metadatas"], strict=True):
            record = _record(text)
            record.file_hash = str((meta or {}).get("file_hash", ""))
            record.matters = [m for m in str((meta or {}).get("matters", "")).split("+") if m]
            records[record.document_id] = record
        return records

    def _log(self, document_ids: list[str]) -> None:
        """Step 0 of a write: say which records it may change (and drop the log's old rows)."""
        now = time.time_ns()
        with self._client_lock.reading():
            self.meta_collection.upsert(
                ids=[f"{_LOG_PREFIX}{d}" for d in document_ids], documents=document_ids,
                metadatas=[{"at": now} for _d in document_ids],
                embeddings=np.zeros((len(document_ids), 1), dtype=np.float32))
            old: Any = {"at": {"$lt": now - _LOG_KEEP_NS}}
            self.meta_collection.delete(where=old)

    def _caught_up(self) -> bool:
        """Bring the records up to date from the change log (a write elsewhere): the records
        it names are read again, the others kept. False when the log cannot tell (no records
        read yet, or last looked before its oldest row): then every record is read. A writer
        of a previous version keeps no log: its stamp lacks the log's prefix, and `sync` reads
        every record (servers of two versions writing at once are not supported: upgrade them
        together)."""
        records, looked = self._records, self._looked
        now = time.time_ns()
        if records is None or looked is None or now - looked > _LOG_KEEP_NS - _LOG_MARGIN_NS:
            return False
        got = self._get("meta", ["documents"], where={"at": {"$gte": looked - _LOG_MARGIN_NS}})
        changed = sorted({str(d) for d in got["documents"] if d})
        fresh = self._read_records(changed) if changed else {}
        patched = {k: r for k, r in records.items() if k not in changed}
        patched.update(fresh)
        self._set_records(patched)
        self._looked = now
        return True

    def invalidate(self) -> None:
        """Forget the records and passages read: the next read asks Chroma again."""
        with self._lock:
            self._records = None
            self._passages.clear()
            self._by_id.clear()
            self._vectors.clear()

    def records(self) -> dict[str, DocumentRecord]:
        records = self._records  # without the lock: questions keep answering while a large
        if records is not None:  # document is written (they see the index as it was before)
            return records
        with self._lock:
            if self._records is None:
                self._set_records(self._read_records())
            assert self._records is not None
            return self._records

    def _set_records(self, records: dict[str, DocumentRecord]) -> None:
        """Swap in a new records map (never changed in place: readers hold the old one)."""
        self._fingerprint = "|".join(
            f"{k}:{records[k].content_hash}:{records[k].pipeline_version}" for k in sorted(records))
        self._records = records

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.records().values(), key=lambda r: r.document_id)

    def document_chunks(self, document_id: str) -> list[Chunk]:
        """One document's passages in reading order (the last `cached_documents` kept)."""
        record = self.records().get(document_id)
        if record is None:
            return []

        def read() -> list[Chunk]:
            got = self._get("chunks", ["documents", "metadatas"],
                            where={"document_id": document_id})
            return sorted(self._committed(got, {document_id: record.content_hash}),
                          key=lambda c: (c.start, c.part))

        return self._kept(self._passages, (document_id, record.content_hash), read)

    def _kept(self, cache: OrderedDict[tuple[str, str], _T], key: tuple[str, str],
              read: Callable[[], _T]) -> _T:
        """What `cache` holds for `key` (a document's version), else `read()`, kept: the last
        `cached_documents` versions stay."""
        with self._lock:
            cached = cache.get(key)
            if cached is not None:
                cache.move_to_end(key)
                return cached
        value = read()
        with self._lock:
            cache[key] = value
            while len(cache) > self._cached_documents:
                cache.popitem(last=False)
        return value

    def document_vectors(self, document_id: str) -> tuple[list[str], np.ndarray]:
        """One document's committed passages' ids and unit vectors (the last
        `cached_documents` kept, as their passages)."""
        record = self.records().get(document_id)
        if record is None:
            return [], np.zeros((0, 1), dtype=np.float32)

        def read() -> tuple[list[str], np.ndarray]:
            got = self._get("chunks", ["embeddings", "metadatas"],
                            where={"document_id": document_id})
            rows = [(cid, vector) for cid, vector, meta in zip(got["ids"], got["embeddings"],
                                                              got["metadatas"], strict=True)
                    if meta and meta.get("doc_hash") == record.content_hash]
            matrix = np.asarray([v for _cid, v in rows], dtype=np.float32).reshape(len(rows), -1)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            return [cid for cid, _v in rows], matrix

        return self._kept(self._vectors, (document_id, record.content_hash), read)

    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """The committed passages among `ids`, in their order (others are left out); the last
        `cached_passages` read are kept."""
        wanted = list(dict.fromkeys(ids))
        hashes = {r.document_id: r.content_hash for r in self.records().values()}
        found: dict[str, Chunk] = {}
        with self._lock:
            for cid in wanted:
                entry = self._by_id.get(cid)
                if entry is not None and hashes.get(entry[1].document_id) == entry[0]:
                    found[cid] = entry[1]
        missing = [cid for cid in wanted if cid not in found]
        if missing:
            got = self._get("chunks", ["documents", "metadatas"], ids=missing)
            read = {c.chunk_id: c for c in self._committed(got, hashes)}
            with self._lock:
                for cid, chunk in read.items():
                    self._by_id[cid] = (hashes[chunk.document_id], chunk)
                while len(self._by_id) > self._cached_passages:
                    self._by_id.popitem(last=False)
            found.update(read)
        return {cid: found[cid] for cid in wanted if cid in found}

    def chunks(self) -> list[Chunk]:
        """Every passage, one document at a time: for tools and tests, never the answer path."""
        return [c for record in self.documents() for c in self.document_chunks(record.document_id)]

    @staticmethod
    def _committed(got: dict[str, list[Any]], hashes: dict[str, str]) -> list[Chunk]:
        """The rows of `got` whose document version is the committed one."""
        return [chunk_from_stored(cid, text or "", dict(meta))
                for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"],
                                           strict=True)
                if meta and hashes.get(str(meta.get("document_id"))) == meta.get("doc_hash")]

    def fingerprint(self) -> str:
        """What the loaded records are: ids, content hashes and pipeline versions."""
        self.records()
        return self._fingerprint

    def stored_version(self) -> str:
        """The version stamp in Chroma now: one row, whatever the corpus ("" before any write
        by this version)."""
        with self.failing("la lecture de l'index"), self._client_lock.reading():
            got: Any = self.meta_collection.get(ids=[_VERSION], include=["documents"])
        documents = got["documents"] or []
        return str(documents[0]) if documents else ""

    def sync(self) -> bool:
        """Catch up with writes made elsewhere (another process or server); True if any.

        An embedded client is reopened: its vector index in memory misses other processes'
        vectors. Own writes update what we know, so a difference means a write elsewhere.
        """
        if self.stored_version() == self._known:
            return False  # the usual case, without waiting for a write in progress here
        with self._lock:
            stored = self.stored_version()  # again: an own write may just have ended
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
            # The last writer keeps the log (its stamp says so): read what it names.
            if not (stored.startswith(_LOG_PREFIX) and self._caught_up()):
                self.invalidate()
            return True

    def _stamp(self) -> tuple[str, bool]:
        """Write a new version stamp (after an own write); (the stamp, whether this client
        knew the one it replaced: else another process wrote and the records are reread)."""
        before = self.stored_version()
        stamp = f"{_LOG_PREFIX}{uuid.uuid4().hex}"  # by a writer that keeps the change log
        with self._client_lock.reading():
            self.meta_collection.upsert(ids=[_VERSION], documents=[stamp],
                                        embeddings=np.zeros((1, 1), dtype=np.float32))
        return stamp, before == self._known and self._known is not None

    def _wrote(self, changed: dict[str, DocumentRecord | None]) -> None:
        """After an own write (`changed`: each document's record now, None once deleted): the
        records as Chroma holds them now, without rereading them when no other process wrote
        in between (each write costs the same at any corpus size)."""
        stamp, knew = self._stamp()
        if knew and self._records is not None:
            records = dict(self._records)
            for document_id, record in changed.items():
                records.pop(document_id, None)
                if record is not None:
                    records[document_id] = record
            self._set_records(records)
        else:
            self.invalidate()
        self._known = stamp

    def ready(self) -> bool:
        try:
            return bool(self.records())
        except Exception:  # noqa: BLE001 - health check: any store failure means "not ready"
            return False

    def find_by_hash(self, content_hash: str) -> DocumentRecord | None:
        return next((r for r in self.records().values() if r.content_hash == content_hash), None)

    def dense_search(
        self, vector: np.ndarray, k: int, document_ids: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The `k` passages closest to `vector` (in `document_ids` when given), with their
        cosine. Without a scope the query is not filtered (a filter on every content hash is
        as long as the corpus): passages of versions not committed are dropped afterwards, and
        when any was, the query is made again filtered on the committed versions."""
        records = self.records()
        hashes = {r.document_id: r.content_hash for r in records.values()
                  if document_ids is None or r.document_id in document_ids}
        if not hashes:
            return []
        if (document_ids is not None
                and sum(records[d].chunks for d in hashes) <= EXACT_PASSAGES):
            return self._exact(vector, k, list(hashes))
        where = None if document_ids is None else {"doc_hash": {"$in": list(hashes.values())}}
        found, dropped = self._query(vector, k, where, hashes)
        if dropped and where is None:
            found, _ = self._query(vector, k, {"doc_hash": {"$in": list(hashes.values())}},
                                   hashes)
        return found

    def _exact(self, vector: np.ndarray, k: int,
               document_ids: list[str]) -> list[tuple[Chunk, float]]:
        """The `k` passages of these documents closest to `vector`, scored on their vectors:
        the cosine Chroma's query gives, over every passage (no approximate index)."""
        ids: list[str] = []
        matrices = []
        for document_id in document_ids:
            doc_ids, matrix = self.document_vectors(document_id)
            ids += doc_ids
            matrices.append(matrix)
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        cosines = np.vstack(matrices) @ (query / max(float(np.linalg.norm(query)), 1e-12))
        best = sorted(range(len(ids)), key=lambda i: (-float(cosines[i]), ids[i]))[:k]
        chunks = self.chunks_by_id(ids[i] for i in best)
        return [(chunks[ids[i]], float(cosines[i])) for i in best if ids[i] in chunks]

    def _query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None,
               hashes: dict[str, str]) -> tuple[list[tuple[Chunk, float]], bool]:
        """The query's committed passages, and whether any other was found."""
        with self.failing("la recherche"), self._client_lock.reading():
            result: Any = self.chunks_collection.query(
                query_embeddings=[vector.tolist()], n_results=k, where=where,
                include=["distances"])
        distance = dict(zip(result["ids"][0], result["distances"][0], strict=True))
        chunks = self.chunks_by_id(distance)
        found = [(c, 1.0 - float(distance[cid])) for cid, c in chunks.items()
                 if c.document_id in hashes]
        return found, len(found) < len(distance)

    def outline(self, document_id: str) -> list[dict[str, Any]]:
        record = self.records().get(document_id)
        if record is None:
            raise KeyError(document_id)
        return record.outline

    def article_text(self, document_id: str, section: str | None, article: str | None) -> str:
        if article is None:
            return ""
        parts = [c.text for c in self.document_chunks(document_id)
                 if c.section == section and c.in_article(article)]
        return "\n\n".join(parts)

    # Writes ----------------------------------------------------------------------------------
    def _mark_pending(self, *document_ids: str) -> None:
        """Step 0 of a write or a deletion: `collect_garbage` looks here after an interruption."""
        with self._client_lock.reading():
            self.pending_collection.upsert(
                ids=list(document_ids), documents=list(document_ids),
                embeddings=np.zeros((len(document_ids), 1), dtype=np.float32))

    def _done_pending(self, *document_ids: str) -> None:
        with self._client_lock.reading():
            self.pending_collection.delete(ids=list(document_ids))

    def write_document(self, record: DocumentRecord, chunks: list[Chunk], vectors: np.ndarray,
                       progress: Callable[[int, int], None] | None = None) -> None:
        """Write one document's chunks, then commit its record, then drop older versions.

        `progress(written, total)` hears each batch of chunks written.
        """
        self.write_documents([DocumentWrite(record, chunks, vectors, progress)])

    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        """Write several documents as one: marked pending, their chunks (`_BATCH` rows a call,
        across documents), then their records (the commit), then older versions dropped,
        unmarked, and one version stamp. An interruption leaves none of them committed, and
        `collect_garbage` removes what was written. Each call to Chroma costs about as much
        as 15 of its rows (embedded, 512 dimensions: 10 upserts of 25 rows 0.39 to 0.62 s,
        one of 250 rows 0.23 to 0.29 s, this machine), hence one call for many documents."""
        if not writes:
            return
        ids = [w.record.document_id for w in writes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"one write per document, got {ids}")
        rows = [(w, k) for w in writes for k in range(len(w.chunks))]
        with self._lock, self.failing(f"l'écriture de {', '.join(ids[:3])}"
                                      + (f" et {len(ids) - 3} autres" if len(ids) > 3 else "")):
            self._log(ids)
            self._mark_pending(*ids)
            with self._client_lock.reading():
                collection = self.chunks_collection
                for i in range(0, len(rows), _BATCH):
                    batch = rows[i: i + _BATCH]
                    collection.upsert(
                        ids=[w.chunks[k].chunk_id for w, k in batch],
                        embeddings=[w.vectors[k].astype(np.float32) for w, k in batch],
                        documents=[w.chunks[k].text for w, k in batch],
                        metadatas=[self._metadata(w.chunks[k], w.record.content_hash)
                                   for w, k in batch],
                    )
                    for w in dict.fromkeys(w for w, _k in batch):  # each once, in order
                        if w.progress is not None:
                            w.progress(max(k for v, k in batch if v is w) + 1, len(w.chunks))
                self.documents_collection.upsert(
                    ids=ids,
                    embeddings=np.zeros((len(ids), 1), dtype=np.float32),
                    documents=[json.dumps(_stored(w.record), ensure_ascii=False)
                               for w in writes],
                    metadatas=[_record_metadata(w.record) for w in writes],
                )
                stale: list[Any] = [{"$and": [{"document_id": w.record.document_id},
                                              {"doc_hash": {"$ne": w.record.content_hash}}]}
                                    for w in writes]
                collection.delete(where=stale[0] if len(stale) == 1 else {"$or": stale})
            self._done_pending(*ids)
            # Under the lock: sync() never takes it for a write elsewhere.
            self._wrote({w.record.document_id: w.record for w in writes})

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
        with self._lock, self.failing(f"le classement de {document_id}"):
            record = replace(self.records()[document_id], matters=sorted(set(matters)))
            self._log([document_id])
            with self._client_lock.reading():
                self.documents_collection.upsert(
                    ids=[record.document_id],
                    embeddings=np.zeros((1, 1), dtype=np.float32),
                    documents=[json.dumps(_stored(record), ensure_ascii=False)],
                    metadatas=[_record_metadata(record)],
                )
            self._wrote({document_id: record})
            return record

    def delete_document(self, document_id: str) -> bool:
        with self._lock, self.failing(f"la suppression de {document_id}"):
            existed = document_id in self.records()
            self._log([document_id])
            self._mark_pending(document_id)
            with self._client_lock.reading():
                self.documents_collection.delete(ids=[document_id])
                self.chunks_collection.delete(where={"document_id": document_id})
            self._done_pending(document_id)
            self._wrote({document_id: None})
            return existed

    def collect_garbage(self) -> int:
        """Delete chunks left by an interrupted write or deletion (no committed record matches
        them): only the documents marked pending are looked at."""
        with self._lock:
            pending = self._get("pending", [])["ids"]
            if not pending:
                return 0
            records = self._read_records()
            removed = 0
            for document_id in pending:
                record = records.get(document_id)
                where: dict[str, Any] = {"document_id": document_id}
                if record is not None:
                    where = {"$and": [where, {"doc_hash": {"$ne": record.content_hash}}]}
                stale = self._get("chunks", [], where=where)["ids"]
                with self._client_lock.reading():
                    for i in range(0, len(stale), _BATCH):
                        self.chunks_collection.delete(ids=stale[i: i + _BATCH])
                self._done_pending(document_id)
                removed += len(stale)
            self.invalidate()
            return removed

    def count_chunks(self) -> int:
        with self._client_lock.reading():
            return int(self.chunks_collection.count())


def _extend(rows: dict[str, list[Any]], got: Any) -> None:
    for name in rows:
        value = got[name]  # a list, None when not included, or an array for embeddings
        rows[name].extend([None] * len(got["ids"]) if value is None else list(value))


def _stored(record: DocumentRecord) -> dict[str, Any]:
    """The record's JSON: the fields the previous version knows (it refuses others)."""
    data = asdict(record)
    data.pop("file_hash")
    data.pop("matters")
    return data


def _record(text: str) -> DocumentRecord:
    """A stored record; fields this version does not know (a newer writer's) are ignored."""
    data = json.loads(text)
    known = DocumentRecord.__dataclass_fields__
    return DocumentRecord(**{k: v for k, v in data.items() if k in known})
