"""Remove extraction noise (page headers and footers, page numbers, tables of contents).

Cleaning only drops whole noise lines or splits a line in two; it never rewrites the words a
lawyer will quote. Each kept line keeps its offset in the extracted text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from ingest.models import Line

_SOFT = {"\u00ad": "", "\u00a0": " ", "\u202f": " ", "\u200b": ""}
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?\d{1,3}(?:\s*(?:/|sur)\s*\d{1,3})?\s*$", re.IGNORECASE)
_TOC_ENTRY = re.compile(r"^\s*\S.{2,}?(?:\t+|\s*\.{4,}\s*|\s{3,})\d{1,3}\s*$")
_UPPER_TAIL = re.compile(
    r"^(.*?[.;:!?»)])\s{2,}((?:[A-ZÀ-Ý'’\"()«»]{2,}\s+){2,}[A-ZÀ-Ý'’\"()«»]{2,}.*)$"
)
_BOILERPLATE = re.compile(r"^\s*(skip to (main )?content|aller au contenu( principal)?)\s*$", re.I)


def normalise_characters(text: str) -> str:
    for char, repl in _SOFT.items():
        text = text.replace(char, repl)
    return text


def is_upper_title(text: str) -> bool:
    """A line mostly in capitals, like a sub-document title ("ACCORD DE TRAITEMENT ...")."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 6:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= 0.85


def clean(lines: list[Line]) -> list[Line]:
    """Return the document's lines without noise, in order, with their source offsets."""
    lines = [replace(ln, text=normalise_characters(ln.text).rstrip()) for ln in lines]
    lines = _split_glued_titles(lines)
    lines = _drop_table_of_contents(lines)
    lines = _drop_repeated_lines(lines)
    lines = _drop_repeated_title_blocks(lines)
    return [
        ln for ln in lines
        if not _PAGE_NUMBER.match(ln.text) and not _BOILERPLATE.match(ln.text)
    ]


def _split_glued_titles(lines: list[Line]) -> list[Line]:
    """Split "…end of sentence.  TITLE IN CAPITALS" where extraction glued a title to text."""
    out: list[Line] = []
    for ln in lines:
        match = _UPPER_TAIL.match(ln.text)
        if match and is_upper_title(match.group(2)):
            head, tail = match.group(1), match.group(2)
            out.append(replace(ln, text=head))
            out.append(replace(ln, text=tail, start=ln.start + ln.text.index(tail)))
        else:
            out.append(ln)
    return out


def _drop_table_of_contents(lines: list[Line]) -> list[Line]:
    """Drop runs of at least three "Title ...... 12" lines (a table of contents)."""
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (_TOC_ENTRY.match(lines[j].text) or (j > i and not lines[j].text)):
            j += 1
        entries = sum(1 for k in range(i, j) if lines[k].text)
        if entries >= 3:
            for k in range(i, j):
                keep[k] = False
            i = j
        else:
            i += 1
    return [ln for ln, k in zip(lines, keep, strict=True) if k]


def _drop_repeated_lines(lines: list[Line]) -> list[Line]:
    """Drop short lines repeated on many pages (running headers and footers)."""
    pages = {ln.page for ln in lines}
    if len(pages) < 3:
        return lines
    counts = Counter(ln.text.strip() for ln in lines if ln.text.strip())
    limit = max(3, len(pages) // 2)
    noise = {t for t, n in counts.items() if n >= limit and len(t) <= 100 and not t[:1].isdigit()}
    return [ln for ln in lines if ln.text.strip() not in noise]


def _drop_repeated_title_blocks(lines: list[Line]) -> list[Line]:
    """Drop a block of 4+ consecutive capitalised title lines inside the text.

    Bundled contracts repeat, as a page header, the list of their sub-document titles; the
    block sits in the middle of a sentence or list and must not open a new sub-document.
    """
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j].text.strip() and is_upper_title(lines[j].text):
            j += 1
        if j - i >= 4 and i > 0:
            for k in range(i, j):
                keep[k] = False
            i = j
        else:
            i = max(i + 1, j)
    return [ln for ln, k in zip(lines, keep, strict=True) if k]
