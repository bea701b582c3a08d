"""Typed records passed between the ingestion steps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from french.lines import join_lines


class IngestError(Exception):
    """A file could not be ingested; the message names the file and the fix."""


@dataclass(frozen=True)
class Line:
    """One line of a document with its character offset in the extracted source text."""

    text: str
    start: int
    page: int
    heading_level: int | None = None  # from a DOCX heading style, when there is one


@dataclass
class LoadedDocument:
    """Text extracted from one file, as lines with offsets and pages."""

    document_id: str
    source: str
    text: str
    lines: list[Line]
    file_type: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class Article:
    """A node of a contract's structure: an article, sub-article, preamble or paragraph."""

    section: str | None
    number: str | None
    heading: str | None
    lines: list[Line] = field(default_factory=list)
    level: int = 1

    @property
    def text(self) -> str:
        return join_lines([ln.text for ln in self.lines])

    @property
    def start(self) -> int:
        return self.lines[0].start if self.lines else 0

    @property
    def end(self) -> int:
        return self.lines[-1].start + len(self.lines[-1].text) if self.lines else 0

    @property
    def pages(self) -> list[int]:
        return sorted({ln.page for ln in self.lines})


@dataclass(frozen=True)
class Removal:
    """A line removed by cleaning, with its page and why (a running header, a page number…)."""

    text: str
    page: int
    reason: str


@dataclass
class WordCheck:
    """Words of the extracted text against the words kept after cleaning.

    `unexplained` counts extracted words that are neither kept nor in a recorded removal: it
    must be 0 (cleaning never drops a word silently).
    """

    extracted: int = 0
    kept: int = 0
    removed: list[Removal] = field(default_factory=list)
    unexplained: int = 0

    @property
    def kept_share(self) -> float:
        return self.kept / self.extracted if self.extracted else 1.0


@dataclass
class ParsedDocument:
    """A contract's outline: title, leaf articles in reading order, and how it was parsed."""

    document_id: str
    title: str
    articles: list[Article]
    sections: list[str]
    fallback: bool = False  # True when no article structure was found (paragraph chunks)
    words: WordCheck = field(default_factory=WordCheck)  # set by ingest after cleaning


@dataclass(frozen=True)
class Chunk:
    """What is embedded and indexed: one article, or one part of a long article."""

    chunk_id: str
    document_id: str
    document_title: str
    section: str | None
    article: str | None
    heading: str | None
    text: str
    context: str
    pages: tuple[int, ...]
    start: int
    end: int
    part: int = 1
    parts: int = 1

    def in_article(self, article: str) -> bool:
        """True for chunks of `article` or of one of its sub-articles ("6" holds "6.3")."""
        return self.article is not None and (
            self.article == article or self.article.startswith(article + ".")
        )

    @property
    def indexed_text(self) -> str:
        """The text embedded and searched: its identity header, then the contract's words."""
        return f"{self.context}\n{self.text}"


