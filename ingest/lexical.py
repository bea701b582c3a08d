"""A French BM25 index over chunks: stemmed, accent-folded, persisted as a rebuildable cache."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from pathlib import Path

from french.tokens import TOKENIZER_VERSION, expand_query, tokenize
from ingest.models import Chunk


class BM25Index:
    """Okapi BM25 over chunk ids; build from chunks, or load from its JSON cache."""

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

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the cache atomically (tokens per chunk; statistics are recomputed on load).

        Each writer has its own temp file in the same folder, renamed over the cache: a reader
        (thread or process) sees the old file or the new one, never half of one.
        """
        data = {"fingerprint": fingerprint, "tokenizer": TOKENIZER_VERSION, "ids": self.ids,
                "docs": [list(c.elements()) for c in self.tf]}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> BM25Index | None:
        """The cached index, or None when it is missing, unreadable or stale."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("fingerprint") != fingerprint or data.get("tokenizer") != TOKENIZER_VERSION:
            return None
        return cls(data["ids"], data["docs"])


def load_or_build(path: Path, fingerprint: str, chunks: list[Chunk]) -> BM25Index:
    """The lexical index matching the store: from the cache when fresh, else rebuilt."""
    index = BM25Index.load(path, fingerprint)
    if index is None or set(index.ids) != {c.chunk_id for c in chunks}:
        index = BM25Index.from_chunks(chunks)
        index.save(path, fingerprint)
    return index
