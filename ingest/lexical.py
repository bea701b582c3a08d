"""French BM25 over chunks: stemmed, accent-folded words (french.tokens).

`LexicalIndex` is the one the app uses: a Tantivy index per data dir, one segment per write,
updated per document (a document added, replaced or deleted costs the same at any corpus size),
committed atomically by Tantivy, memory-mapped when opened. Its manifest names the document
versions it holds (one SQLite row each, `versions.sqlite`, changed row by row), so a second
process or server catches up by adding what it lacks instead of rebuilding. Tantivy scores
with the same Okapi BM25 (k1 1.2, b 0.75, idf ln(1 + (N - n + 0.5) / (n + 0.5))) as
`BM25Index`, the in-memory index it replaces (kept for comparisons and tests).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from french.tokens import TOKENIZER_VERSION, expand_query, tokenize
from ingest.models import Chunk

if TYPE_CHECKING:
    from ingest.store import DocumentRecord


class BM25Index:
    """Okapi BM25 over chunk ids, in memory: the reference `LexicalIndex` is checked against."""

    def __init__(self, ids: list[str], docs: list[list[str]], k1: float = 1.2,
                 b: float = 0.75) -> None:
        self.ids = ids
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg = sum(self.lengths) / len(docs) if docs else 0.0
        df: Counter[str] = Counter()
        for counts in self.tf:
            df.update(counts.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.postings: dict[str, list[int]] = {}
        for i, counts in enumerate(self.tf):
            for term in counts:
                self.postings.setdefault(term, []).append(i)

    @classmethod
    def from_chunks(cls, chunks: list[Chunk]) -> BM25Index:
        return cls([c.chunk_id for c in chunks], [tokenize(c.indexed_text) for c in chunks])

    def search(self, query: str, k: int = 20, allowed: set[str] | None = None
               ) -> list[tuple[str, float]]:
        terms = tokenize(expand_query(query))
        scores: dict[int, float] = {}
        for term in set(terms):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i in self.postings[term]:
                if allowed is not None and self.ids[i] not in allowed:
                    continue
                tf = self.tf[i][term]
                norm = tf + self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.avg or 1))
                scores[i] = scores.get(i, 0.0) + idf * tf * (self.k1 + 1) / norm
        best = sorted(scores.items(), key=lambda item: -item[1])[:k]
        return [(self.ids[i], s) for i, s in best]


log = logging.getLogger(__name__)

# Bump when the schema or what is indexed changes: an index of another version is rebuilt.
INDEX_VERSION = "3"
_MANIFEST = "manifest.json"
_VERSIONS = "versions.sqlite"  # one row per document version held (the manifest's rows)
_ANALYZER = "words"  # tokens are ours, joined by spaces: Tantivy only splits them again
# Tantivy ranks with lengths rounded to one byte: it proposes this many times the passages asked
# for, then they are scored with exact lengths, as `BM25Index` does. Measured on the eval's 340
# questions (27 contracts, 2026-12-03): the 40 best are then those of `BM25Index`, in its order.
CANDIDATES = 4
# Writer heap: Tantivy's floor is 15 MB per thread; one thread keeps writes ordered and cheap.
_WRITER_HEAP = 50_000_000
K1, B = 1.2, 0.75  # Okapi BM25's usual values, those of `BM25Index` and of Tantivy
# Passages read to find the clauses holding a term (definitions): ten times the most of any
# common defined term in the eval's 27 contracts (765 passages, 2026-12-03): "Service" is in
# 503, "Client" in 380, "Parties" in 294.
CONTAINING_LIMIT = 5000


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class TermWeights(Mapping[str, float]):
    """The idf of each indexed term, asked of the index term by term (never all loaded)."""

    def __init__(self, searcher: Any, schema: Any) -> None:
        self._searcher = searcher
        self._schema = schema
        self._n = int(searcher.num_docs)
        self._known: dict[str, float | None] = {}

    def __getitem__(self, term: str) -> float:
        if term not in self._known:
            self._known[term] = _idf(self._n, df) if (df := self._df(term)) else None
        weight = self._known[term]
        if weight is None:
            raise KeyError(term)
        return weight

    def _df(self, term: str) -> int:
        """The live passages holding `term` (Tantivy's own count keeps deleted ones until
        their segment is merged)."""
        if not self._n:
            return 0
        import tantivy

        query = tantivy.Query.term_query(self._schema, "body", term)
        return int(self._searcher.search(query, 1, count=True).count or 0)

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __iter__(self) -> Iterator[str]:  # the whole vocabulary: for tests and tools only
        return iter(t for t, _n in self._searcher.terms_with_prefix("body", ""))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def highest(self) -> float:
        """The weight of a term held by one passage (the rarest a term can be)."""
        return _idf(self._n, 1) if self._n else 1.0


class LexicalIndex:
    """The data dir's BM25 index (Tantivy), kept equal to the committed documents by `sync`."""

    def __init__(self, path: Path) -> None:
        import tantivy

        self.path = path
        self._tantivy = tantivy
        path.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(str(path / ".sync.lock"))
        self._lock = threading.RLock()
        self._schema = self._build_schema()
        self._index = self._open()
        self._searcher = self._index.searcher()
        self.idf = TermWeights(self._searcher, self._schema)
        self._held: dict[str, str] = {}
        self._sizes: dict[str, list[int]] = {}
        self._held, self._sizes = self._versions()
        self._totals = _totals(self._sizes)
        self.removed: list[str] = []  # the versions the last `sync` took out

    def _build_schema(self) -> Any:
        builder = self._tantivy.SchemaBuilder()
        builder.add_text_field("chunk", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("doc", tokenizer_name="raw", index_option="basic")
        builder.add_text_field("version", tokenizer_name="raw", index_option="basic")
        builder.add_text_field("body", stored=True, tokenizer_name=_ANALYZER, index_option="freq")
        return builder.build()

    def _open(self) -> Any:
        """The index on disk, or a new one when none is there or it is of another version."""
        tantivy = self._tantivy
        manifest = self._manifest()
        current = (manifest.get("version") == INDEX_VERSION
                   and manifest.get("tokenizer") == TOKENIZER_VERSION)
        with self._file_lock:
            if not current:
                self._clear()
            try:
                index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            except ValueError:  # unreadable or of another schema: it is only a cache
                log.warning("index lexical illisible dans %s : reconstruit", self.path)
                self._clear()
                current = False
                index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            if not current:
                _write_json(self.path / _MANIFEST, _manifest_of())
            self._migrate(manifest)
        analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        index.register_tokenizer(_ANALYZER, analyzer)
        return index

    def _clear(self) -> None:
        """Remove the index files (the sync lock stays: it is held now)."""
        for file in self.path.iterdir():
            if file.is_file() and not file.name.startswith(".sync"):
                file.unlink()

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path / _VERSIONS, timeout=60)
        db.execute("CREATE TABLE IF NOT EXISTS versions (version TEXT PRIMARY KEY, "
                   "document_id TEXT NOT NULL, passages INTEGER NOT NULL, "
                   "tokens INTEGER NOT NULL)")
        return db

    def _versions(self) -> tuple[dict[str, str], dict[str, list[int]]]:
        """The versions held, from disk: version -> document id, and -> [passages, tokens]."""
        db = self._db()
        try:
            rows = db.execute("SELECT version, document_id, passages, tokens FROM versions")
            held: dict[str, str] = {}
            sizes: dict[str, list[int]] = {}
            for version, document_id, passages, tokens in rows:
                held[version] = document_id
                sizes[version] = [passages, tokens]
            return held, sizes
        finally:
            db.close()

    def _record_versions(self, added: dict[str, tuple[str, list[int]]], gone: list[str]) -> None:
        """One transaction: the rows of `gone` out, those of `added` in (version ->
        (document id, [passages, tokens]))."""
        db = self._db()
        try:
            with db:
                db.executemany("DELETE FROM versions WHERE version = ?", [(v,) for v in gone])
                db.executemany("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?)",
                               [(v, d, size[0], size[1]) for v, (d, size) in added.items()])
        finally:
            db.close()

    def _migrate(self, manifest: dict[str, Any]) -> None:
        """A manifest of the previous layout (every version in manifest.json): its versions
        become rows, and manifest.json keeps the index's versions only."""
        held, sizes = manifest.get("documents"), manifest.get("sizes")
        if not isinstance(held, dict) or not isinstance(sizes, dict):
            return
        if manifest.get("version") == INDEX_VERSION:
            self._record_versions({v: (d, sizes[v]) for v, d in held.items() if v in sizes}, [])
        _write_json(self.path / _MANIFEST, _manifest_of())

    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def documents(self) -> dict[str, str]:
        """The document versions held: version -> document id."""
        return dict(self._held)

    def sync(self, records: Iterable[DocumentRecord],
             read: Callable[[str], list[Chunk]]) -> int:
        """Make the index hold exactly `records`' versions (`DocumentRecord.version`): add
        what it lacks (`read` gives a document's passages), delete what is gone. Returns the
        documents added or removed.

        Under a file lock, from the manifest on disk: what another process added meanwhile is
        only reloaded, never indexed twice.
        """
        wanted = {r.version: r.document_id for r in records}
        if wanted == self._held:
            return 0
        with self._lock, self._file_lock:
            self._index.reload()
            held, sizes = self._versions()
            add = [h for h, document_id in wanted.items() if held.get(h) != document_id]
            gone = [h for h in held if h not in wanted]
            if add or gone:
                added = self._write(add, gone, wanted, read)
                self._record_versions({h: (wanted[h], added[h]) for h in add}, gone)
                for h in gone:
                    held.pop(h, None)
                    sizes.pop(h, None)
                held.update({h: wanted[h] for h in add})
                sizes.update(added)
                self._index.reload()
            self._searcher = self._index.searcher()
            self.idf = TermWeights(self._searcher, self._schema)
            self._held, self._sizes = held, sizes
            self._totals = _totals(sizes)
            self.removed = gone
            return len(add) + len(gone)

    def _write(self, add: list[str], gone: list[str], wanted: dict[str, str],
               read: Callable[[str], list[Chunk]]) -> dict[str, list[int]]:
        """One commit: the passages of `add` in, those of `gone` out (by version).
        Returns each added version's [passages, tokens]."""
        writer = self._index.writer(_WRITER_HEAP, 1)
        sizes: dict[str, list[int]] = {}
        try:
            for version in gone + add:  # an added one again: a crash may have half-done it
                writer.delete_documents_by_term("version", version)
            for version in add:
                chunks = read(wanted[version])
                tokens = [tokenize(c.indexed_text) for c in chunks]
                for chunk, words in zip(chunks, tokens, strict=True):
                    writer.add_document(self._tantivy.Document(
                        chunk=chunk.chunk_id, doc=chunk.document_id, version=version,
                        body=" ".join(words)))
                sizes[version] = [len(chunks), sum(len(t) for t in tokens)]
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        return sizes

    def search(self, query: str, k: int = 20, documents: list[str] | None = None
               ) -> list[tuple[str, float]]:
        """The `k` best passages for `query` (in `documents` when given), by BM25."""
        terms = list(dict.fromkeys(tokenize(expand_query(query))))
        if not terms or (documents is not None and not documents):
            return []
        tantivy = self._tantivy
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "body", t))
             for t in terms])
        if documents is not None:
            # The scope filters without scoring: scores are those of the whole index.
            scope = tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self._schema, "doc", list(documents)), 0.0)
            words = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, words), (tantivy.Occur.Must, scope)])
        return self._rescored(words, terms, k)

    def _rescored(self, query: Any, terms: list[str], k: int) -> list[tuple[str, float]]:
        """Tantivy's `CANDIDATES` x `k` best, scored again by Okapi BM25 with exact lengths."""
        searcher = self._searcher
        if not searcher.num_docs:
            return []
        passages, all_tokens = self._totals
        average = all_tokens / (passages or 1)
        weights = {t: self.idf.get(t) for t in terms}
        scored: list[tuple[str, float]] = []
        for _score, address in searcher.search(query, CANDIDATES * k, count=False).hits:
            stored = searcher.doc(address)
            tokens = str(stored["body"][0]).split(" ") if stored["body"] else []
            counts = Counter(tokens)
            norm = K1 * (1 - B + B * len(tokens) / (average or 1))
            score = sum(w * counts[t] * (K1 + 1) / (counts[t] + norm)
                        for t, w in weights.items() if w is not None and counts[t])
            scored.append((str(stored["chunk"][0]), score))
        scored.sort(key=lambda hit: -hit[1])
        return scored[:k]

    def containing(self, words: str, documents: list[str] | None = None,
                   limit: int = CONTAINING_LIMIT) -> list[str]:
        """The passages holding every word of `words` (analysed as indexed), in no order."""
        terms = list(dict.fromkeys(tokenize(words)))
        if not terms:
            return []
        tantivy = self._tantivy
        clauses = [(tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "body", t))
                   for t in terms]
        if documents is not None:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_set_query(
                self._schema, "doc", list(documents))))
        return [cid for cid, _score in self._hits(tantivy.Query.boolean_query(clauses), limit)]

    def _hits(self, query: Any, k: int) -> list[tuple[str, float]]:
        searcher = self._searcher
        if not searcher.num_docs:
            return []
        result = searcher.search(query, k, count=False)
        return [(str(searcher.doc(address)["chunk"][0]), float(score))
                for score, address in result.hits]


def _manifest_of() -> dict[str, Any]:
    return {"version": INDEX_VERSION, "tokenizer": TOKENIZER_VERSION}


def _totals(sizes: Mapping[str, list[int]]) -> tuple[int, int]:
    """Passages and tokens of every version held (BM25's average length), summed once per
    change rather than at each query."""
    return (sum(size[0] for size in sizes.values()), sum(size[1] for size in sizes.values()))


def _write_json(path: Path, data: object) -> None:
    """Write `path` atomically: a reader sees the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
