"""Typed records passed between the ingestion steps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field


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


def join_lines(lines: list[str]) -> str:
    """Join hard-wrapped lines into paragraphs without changing any word.

    A line that ends a sentence, a heading-like line, or a line followed by a blank line or a
    list item ends a paragraph; other lines are joined to the next with a single space, or with
    none after a word cut by a hyphen ("contrac-" + "tuel"). A line starting with a figure
    ("3 % du prix") continues the sentence: only a numbered item or heading starts a block.
    """
    paragraphs: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            paragraphs.append(_glue(current))
            current.clear()

    for raw in lines:
        line = raw.strip()
        if not line:
            close()
            continue
        # A heading ends its paragraph when a sentence starts under it; a lowercase line
        # continues it ("1. Le Client s'engage à" / "payer le prix convenu").
        if current and (_starts_block(line) or (_is_heading_line(current[-1])
                                                and not line[:1].islower())):
            close()
        current.append(line)
        if line.endswith((".", ":", ";", "!", "?")) and not _continues(line):
            close()
    close()
    return "\n".join(p for p in paragraphs if p)


# A list item or a numbered heading: "- item", "• item", "a) item", "1. Objet", "3.1 – Durée",
# "3 - OBJET", "Article 4 …" (not "3 % du prix" nor "30 jours à compter…", which continue a
# sentence wrapped before a figure: the PDF example; sample outlines unchanged).
_BLOCK_START = re.compile(
    r"^(?:[-•–—*▪◦]|\(?[a-z]\)\s|[a-z]\.\s+[A-ZÀ-Ý]|\(?[ivx]{1,4}\)\s|\d{1,3}[.)]\s|"
    r"\d{1,3}(?:\.\d{1,3})+\.?\s*[-–—:]?\s*[A-ZÀ-Ý]|\d{1,3}\s*[-–—]?\s*[A-ZÀ-Ý]|"
    r"(?i:article|art\.|chapitre|titre|annexe)\s+[\dIVXL])"
)
_HEADING_LINE = re.compile(
    r"^(?:(?i:article|art\.|chapitre|titre|annexe)\s+[\dIVXL][\w.]*|\d{1,3}(?:\.\d{1,3})*\.?|"
    r"[a-z]\.)\s*[-–—:.]?\s*[A-ZÀ-Ý«\"]"
)
_HYPHEN_CUT = re.compile(r"[a-zà-ÿ]-$")


def _starts_block(line: str) -> bool:
    return bool(_BLOCK_START.match(line))


def _is_heading_line(line: str) -> bool:
    """A numbered heading with no sentence punctuation ("10.2 Limitation de responsabilité",
    "ARTICLE 5 – DURÉE"): the text under it is its own paragraph, never glued to it."""
    if line.endswith((",", "-")) or len(line.split()) > 15:
        return False
    return bool(_HEADING_LINE.match(line)) or (line.isupper() and len(line) > 3)


def _glue(parts: list[str]) -> str:
    text = parts[0]
    for part in parts[1:]:
        cut = _HYPHEN_CUT.search(text) and part[:1].islower()
        text = f"{text}{part}" if cut else f"{text} {part}"
    return text


def _continues(line: str) -> bool:
    # "art." or "n°." style abbreviations do not end a paragraph.
    return line.endswith(("art.", "cf.", "etc.:", "n°."))
