"""Each document's folded words and word pairs, computed once per document version.

The router needs every contract's vocabulary (which words only one contract holds). It is kept
per document version (content hash and pipeline) in a folder of the data dir's cache, written
when a document enters the lexical index, so that no process reads every passage of every
contract to build it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from french.normalize import folded_words

# Bump when what is kept changes: entries of another version are computed again.
VOCABULARY_VERSION = "1"


@dataclass(frozen=True)
class Vocabulary:
    """One document's folded words, and the pairs of adjacent words in one passage."""

    words: frozenset[str]
    pairs: frozenset[str]


def vocabulary_of(texts: Iterable[str]) -> Vocabulary:
    """The vocabulary of a document's passages (pairs never span two passages)."""
    words: set[str] = set()
    pairs: set[str] = set()
    for text in texts:
        found = folded_words(text)
        words.update(found)
        pairs.update(f"{a} {b}" for a, b in pairwise(found))
    return Vocabulary(frozenset(words), frozenset(pairs))


class VocabularyCache:
    """Vocabularies on disk, one JSON file per document version (`DocumentRecord.version`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, version: str) -> Path:
        return self.folder / f"{version}.json"

    def get(self, version: str) -> Vocabulary | None:
        try:
            data = json.loads(self._path(version).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("version") != VOCABULARY_VERSION:
            return None
        return Vocabulary(frozenset(data["words"]), frozenset(data["pairs"]))

    def put(self, version: str, vocabulary: Vocabulary) -> None:
        """Write atomically (a reader sees the whole file or none)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"version": VOCABULARY_VERSION, "words": sorted(vocabulary.words),
                "pairs": sorted(vocabulary.pairs)}
        path = self._path(version)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def drop(self, versions: Iterable[str]) -> None:
        """Remove the entries of these versions (no longer indexed): each by its name, without
        listing the folder (one file per contract: 10,000 at 10,000 contracts)."""
        for version in versions:
            self._path(version).unlink(missing_ok=True)
