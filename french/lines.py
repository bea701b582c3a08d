"""Rebuild paragraphs from hard-wrapped lines (PDF and DOCX wrapping, hyphenation)."""

from __future__ import annotations

import re


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
                                                and not line[:1].islower())
                        or (len(current) == 1 and _is_title_line(current[0])
                            and (bool(_SENTENCE_OPENING.match(line))
                                 or (line[:1].isupper() and len(line) >= _BODY_LINE_CHARS)))):
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


# An unnumbered title alone on its line ("Fonctionnalités", "Modalités d'utilisation du
# Service") over a line that opens a sentence ("Le service, accessible…"): at most 8 words and
# 60 characters, a capital first, no sentence punctuation and no small word last (a wrapped
# sentence's line fills the width: 85 to 100 characters in the pool's PDFs).
_TITLE_WORDS, _TITLE_CHARS = 8, 60
_SENTENCE_OPENING = re.compile(
    r"^(?:L['’]|(?:Le|La|Les|Un|Une|Ce|Cet|Cette|Ces|Chaque|Tout|Toute|Tous|Toutes|Aucun|"
    r"Aucune|Il|Elle|Ils|Elles|Si|Lorsque|Dans|En|Pour|Par|Sauf|Conformément|Sous)\s)"
)
# ... or over a line as long as a body line, in capitals first: "Présentation" / "Tchap est
# une messagerie instantanée développée et opérée par la DINUM, spécialement" (the pool-2
# DINUM convention).
_BODY_LINE_CHARS = 70
_SMALL_LAST = {"et", "ou", "de", "des", "du", "la", "le", "les", "à", "au", "aux", "en", "pour",
               "par", "un", "une", "sur", "dans", "avec", "d’", "d'", "l’", "l'"}


def _is_title_line(line: str) -> bool:
    words = line.split()
    return (0 < len(words) <= _TITLE_WORDS and len(line) <= _TITLE_CHARS
            and line[:1].isupper() and not re.search(r"[.;:,!?]$", line)
            and words[-1].lower() not in _SMALL_LAST)


def _glue(parts: list[str]) -> str:
    text = parts[0]
    for part in parts[1:]:
        cut = _HYPHEN_CUT.search(text) and part[:1].islower()
        text = f"{text}{part}" if cut else f"{text} {part}"
    return text


def _continues(line: str) -> bool:
    # "art." or "n°." style abbreviations do not end a paragraph.
    return line.endswith(("art.", "cf.", "etc.:", "n°."))
