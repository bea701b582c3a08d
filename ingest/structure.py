"""Parse a contract's article structure from its cleaned lines.

The parser walks the lines once and decides, for each numbered line, whether it opens an
article, a sub-article, a sub-document or an annex, or is only a numbered list item. It uses
the numbering itself (continuity, parents, restarts) rather than any knowledge of a sample.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from french.normalize import fold
from ingest.cleaning import is_upper_title
from ingest.models import Article, Line, ParsedDocument

PREAMBLE = "Préambule"

# "ARTICLE 3 -", "Article 3.2 :", "Art. 3 –", "Article 1er", "Article premier", "ARTICLE IV –".
_KEYWORD = re.compile(
    r"^(?:ARTICLE|Article|ART\.|Art\.)\s*(\d+(?:\.\d+)*(?:\s*(?i:bis|ter|quater)\b)?|PREMIER|"
    r"[Pp]remier|[IVX]{1,6})\s*(?:er)?\b\s*"
    r"(?:[.:\-–—]\s*|\s+|$)(.*)$"
)
# "3. Titre", "3.2 Titre", "3 - TITRE", "3 – Titre".
# Dash variants seen in the issue-15 CCAPs: "3.1 –Durée du contrat", "3.1- Durée" (a dash
# glued to the number or to the title, but never "3-4 jours": a digit after the dash is a range).
_NUMBERED = re.compile(
    r"^(\d{1,3}(?:\.\d{1,3})*)(?:\.\s*|\s*[-–—]\s*(?=[^\d\s])|\s+)(?=\S)(.*)$"
)
# "TITRE II – CONDITIONS FINANCIÈRES", "Chapitre 3": groups articles without numbering them.
_DIVIDER = re.compile(
    r"^(?:TITRE|Titre|CHAPITRE|Chapitre)\s+(?:[IVX]{1,6}|\d{1,2}|PREMIER|[Pp]remier|1er)\b"
    r"\s*(?:[-–—.:]\s*.*)?$"
)
_GLUED = re.compile(r"^(\d{1,3})\.([A-ZÀ-Ý«\"“].*)$")  # "10.Responsabilité"
_REDUNDANT = re.compile(r"^(?:ARTICLE|Article)\s+\d+\s*[.:\-–—]\s*")
_ROMAN = re.compile(r"^([IVX]{1,5})\.\s+(\S.*)$")
_LETTER = re.compile(r"^([A-H])\.\s+(\S.*)$")
_CODE = re.compile(r"^([A-Z]{2,5}\d{1,2})\s*[-–—]\s*:?\s*(\S.*)$")  # "SLA3 – Titre"
_ANNEX = re.compile(
    r"^(?:\d{1,2}\.\s*)?ANNEXE\s+([A-Z]|\d{1,2}|[IVX]{1,5})\b\s*[-–—.:]?\s*(.*)$", re.IGNORECASE
)
_UNNUMBERED = re.compile(r"^(pr[ée]ambule|avertissement)\s*:?$", re.IGNORECASE)
_ACRONYM = re.compile(r"[(\"“«]\s*\"?([A-Z]{2,6})\"?\s*[)\"”»]")
_ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
           "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX"]


@dataclass
class _Heading:
    kind: str  # "keyword", "numbered", "roman", "letter", "code", "annex", "unnumbered"
    parts: tuple[int, ...]
    label: str
    title: str
    rest_start: int  # offset of the title in the line


@dataclass
class _State:
    section: str | None = None
    top: int = 0  # current top-level article number in this section
    path: tuple[int, ...] = ()
    relative: int = 0  # last relative item inside a keyword article
    roman: int = 0
    letter: int = 0
    top_label: str | None = None
    keyword_top: bool = False  # the current article was opened by "ARTICLE N"
    articles: list[Article] = field(default_factory=list)


_SENTENCE_START = re.compile(
    r"^(?:Le|La|Les|L['’]|Un|Une|Ce|Cet|Cette|Ces|Chaque|Tout|Toute|Tous|Aucun|Aucune|Il|Elle|"
    r"Si|Lorsque|Dans|En cas|Par dérogation|Sous réserve|Nonobstant|Sans préjudice|Conformément|"
    r"En application|[ÀA] défaut|Toutefois|Sauf)\b"
)
_CONNECTORS = ("et", "ou", "de", "des", "du", "la", "le", "les", "à", "en", "pour", "par", "au",
               "aux", "un", "une", "sur", "dans")


def _heading_like(title: str, limit: int = 150) -> bool:
    title = title.strip()
    if not title or len(title) > limit or title.endswith((";", ",")):
        return False
    if title.split()[-1].lower() in _CONNECTORS:  # a wrapped sentence, not a heading
        return False
    first = title[0]
    return first.isupper() or first in "«\"“'(" or first.isdigit()


def _heading_text(title: str, next_line: str, keyword: bool = False) -> str | None:
    """The heading of "Heading. Body text…"; None for a numbered paragraph with no heading."""
    title = title.strip()
    if keyword:  # "Article 13 : Les sous-traitants ultérieurs" is always a heading
        heading = title.rstrip(" .:").strip()
        if not heading and _standalone_title(next_line):  # "ARTICLE 3" then "PRIX" below it
            return next_line.rstrip(" .:").strip()
        if heading and _wrapped(title, next_line):
            heading = f"{heading} {next_line.rstrip(' .:').strip()}"
        return heading or None
    if _SENTENCE_START.match(title):  # "8.2 La responsabilité du Concédant est…"
        return None
    sentence = re.match(r"^(.{3,70}?)\.\s+(\S.*)$", title)
    if sentence and len(sentence.group(1).split()) <= 9:
        return sentence.group(1).strip()
    continues = next_line[:1].islower() and not re.match(r"^[a-z][.)]\s", next_line)
    if len(title) > 110 or (continues and not title.endswith((".", ":"))):
        return None
    return title.rstrip(" .:").strip() or None


def _wrapped(title: str, next_line: str) -> bool:
    """The heading wrapped onto the next line: "Article 4 – Obligations … et à leur" then
    "assurance pendant le transport" (a lowercase, unpunctuated line; the test PDFs of
    tests/test_pdf_layout.py). A body sentence starts with a capital or ends with a stop."""
    return (
        bool(next_line) and next_line[:1].islower() and len(title) + len(next_line) <= 200
        and not title.rstrip().endswith((".", ":", ";", ","))
        and not next_line.endswith((".", ":", ";", ","))
        and not re.match(r"^[a-z][.)]\s", next_line)
    )


def _standalone_title(line: str) -> bool:
    """A line that titles the article numbered just above it, not its first sentence."""
    if not line or _parse_heading(line) is not None or line.endswith((".", ",", ";")):
        return False
    if is_upper_title(line):
        return len(line) <= 100
    return len(line) <= 60 and _heading_like(line) and not _SENTENCE_START.match(line)


def _parse_heading(text: str) -> _Heading | None:
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    if match := _ANNEX.match(stripped):
        title = match.group(2).strip()
        if len(stripped) <= 150 and not title.endswith((",", ";", ":", ".")):
            return _Heading("annex", (), match.group(1).upper(), title, offset + match.start(2))
    if match := _KEYWORD.match(stripped):
        number = "1" if match.group(1).lower() == "premier" else match.group(1)
        if number[0].isdigit():
            # "Article 5 bis", "Art. 4Bis": an article inserted after 5, labelled "5bis".
            digits, suffix = re.match(r"([\d.]+)\s*([A-Za-z]*)", number).groups()  # type: ignore[union-attr]
            number = digits + suffix.lower()
            parts: tuple[int, ...] = tuple(int(p) for p in digits.split("."))
        elif value := roman_value(number):  # "ARTICLE XXIV" keeps its label; its place is 24
            parts = (value,)
        else:
            return None
        return _Heading("keyword", parts, number, match.group(2), offset + match.start(2))
    if match := _GLUED.match(stripped):
        return _Heading("numbered", (int(match.group(1)),), match.group(1), match.group(2),
                        offset + match.start(2))
    if match := _NUMBERED.match(stripped):
        parts = tuple(int(p) for p in match.group(1).split("."))
        title = match.group(2)
        start = offset + match.start(2)
        if redundant := _REDUNDANT.match(title):  # "6. Article 6 – Confidentialité"
            title, start = title[redundant.end():], start + redundant.end()
        return _Heading("numbered", parts, match.group(1), title, start)
    if match := _ROMAN.match(stripped):
        return _Heading("roman", (), match.group(1), match.group(2), offset + match.start(2))
    if match := _CODE.match(stripped):
        return _Heading("code", (), match.group(1), match.group(2), offset + match.start(2))
    if match := _LETTER.match(stripped):
        return _Heading("letter", (), match.group(1), match.group(2), offset + match.start(2))
    if _UNNUMBERED.match(stripped):
        return _Heading("unnumbered", (), PREAMBLE, stripped.rstrip(" :"), offset)
    return None


_ROMAN_DIGITS = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def roman_value(numeral: str) -> int | None:
    """The value of a well-formed roman numeral ("XXIV" -> 24), else None ("IIII", "VX")."""
    total = 0
    for i, char in enumerate(numeral):
        value = _ROMAN_DIGITS.get(char)
        if value is None:
            return None
        following = _ROMAN_DIGITS.get(numeral[i + 1]) if i + 1 < len(numeral) else None
        total += -value if following and following > value else value
    return total if total and _as_roman(total) == numeral else None


def _as_roman(value: int) -> str:
    out = ""
    for size, letters in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                          (5, "V"), (4, "IV"), (1, "I")):
        count, value = divmod(value, size)
        out += letters * count
    return out


def _section_label(title_lines: list[str]) -> str:
    title = " ".join(t.strip() for t in title_lines)
    if match := _ACRONYM.search(title):
        return match.group(1)
    return " ".join(title.split()[:6]).title()


class StructureParser:
    """Build the article outline of one cleaned document."""

    def __init__(self, min_articles: int = 2) -> None:
        if min_articles < 1:
            raise ValueError("min_articles must be at least 1")
        self.min_articles = min_articles

    def parse(self, document_id: str, lines: list[Line],
              contents: Sequence[str] = ()) -> ParsedDocument:
        """The outline of a contract; `contents` are the entries of its table of contents
        (removed by cleaning), whose titles mark sections that carry no number."""
        uses_keyword = sum(1 for ln in lines if _KEYWORD.match(ln.text.strip())) >= 2
        title = _document_title(lines)
        state = _State()
        current = Article(None, PREAMBLE, None, [], level=1)
        sections: list[str] = []
        pending_title: list[str] = []
        carried = False  # `current` holds only a divider title and what follows it
        for index, line in enumerate(lines):
            text = line.text
            next_line = _next_text(lines, index)
            heading = _parse_heading(text) if text.strip() else None
            if heading is None and text.strip() and is_upper_title(text) and state.top:
                # A capitalised title followed by numbering that restarts: a sub-document.
                if _restarts_after(lines, index):
                    pending_title.append(text)
                    if not _upper_continues(lines, index):
                        label = _section_label(pending_title)
                        self._close(state, current)
                        if not sections and state.articles:
                            first = _first_section_label(lines)
                            sections.append(first)
                            for art in state.articles:
                                art.section = first
                        sections.append(label)
                        state = _State(section=label, articles=state.articles)
                        current = Article(label, PREAMBLE, " ".join(
                            t.strip() for t in pending_title), [], level=1)
                        pending_title = []
                    continue
            if heading is None and _is_divider(text):
                # A title grouping the next articles: it leads the next article's text.
                self._close(state, current)
                current = Article(state.section, None, None, [line], level=1)
                carried = True
                continue
            accepted = self._accept(heading, state, uses_keyword, next_line) if heading else None
            if accepted is None:
                current.lines.append(line)
                continue
            number, level, head_text = accepted
            lead = current.lines if carried and heading and heading.kind != "annex" else []
            if not lead:
                self._close(state, current)
            carried = False
            if heading and heading.kind == "annex":
                label = f"Annexe {heading.label}"
                if label in sections:  # a cross-reference list, not a new annex
                    current = Article(state.section, None, None, [line], level=1)
                    continue
                if not sections and state.articles:
                    sections.append("")
                sections.append(label)
                state = _State(section=label, articles=state.articles)
                current = Article(label, PREAMBLE, head_text, [line], level=1)
                continue
            current = Article(state.section, number, head_text, [*lead, line], level=level)
        self._close(state, current)
        articles = state.articles
        used = {a.section for a in articles}
        sections = [s for s in sections if s in used]
        if len(sections) < 1:
            for art in articles:
                art.section = None
        numbered = [a for a in articles if a.number and a.number != PREAMBLE]
        if len(numbered) < self.min_articles:
            headed = _by_contents(lines, contents)
            if len(headed) > self.min_articles:
                return ParsedDocument(document_id, title, headed, [])
            return ParsedDocument(document_id, title, _paragraphs(lines), [], fallback=True)
        return ParsedDocument(document_id, title, articles, sections)

    def _accept(
        self, heading: _Heading, state: _State, uses_keyword: bool, next_line: str
    ) -> tuple[str, int, str | None] | None:
        """Return (number, level, heading) when the line opens a node."""
        kind, parts = heading.kind, heading.parts
        if kind == "annex":
            return ("", 1, heading.title or None)
        if kind == "unnumbered":
            return (PREAMBLE, 1, heading.title) if not state.top else None
        if kind == "keyword":
            if not heading.label[0].isdigit() and parts[0] != state.top + 1:
                return None  # "ARTICLE IV" only in sequence: I, II, III…
            if len(parts) == 1:
                state.top, state.path, state.relative, state.roman = parts[0], parts, 0, 0
                state.keyword_top, state.top_label = True, heading.label
                return (heading.label, 1, _heading_text(heading.title, next_line, True))
            return self._dotted(heading, state, next_line)
        if kind == "roman":
            expected = _ROMANS[state.roman] if state.roman < len(_ROMANS) else None
            if heading.label == expected and _heading_like(heading.title) and not state.top:
                state.roman += 1
                state.top_label = heading.label
                state.relative = 0
                return (heading.label, 1, heading.title.rstrip(" .:"))
            return None
        if kind == "code":
            if _heading_like(heading.title):
                state.top_label = heading.label
                return (heading.label, 1, heading.title.strip(" «»\"").rstrip(" .:") or None)
            return None
        if kind == "letter":
            expected = chr(ord("A") + state.letter)
            if (heading.label == expected and not state.top and not state.roman
                    and state.section and _heading_like(heading.title, 100)):
                state.letter += 1
                return (heading.label, 1, heading.title.rstrip(" .:"))
            return None
        if len(parts) == 1:
            return self._single(heading, state, uses_keyword, next_line)
        return self._dotted(heading, state, next_line)

    def _single(
        self, heading: _Heading, state: _State, uses_keyword: bool, next_line: str
    ) -> tuple[str, int, str | None] | None:
        number = heading.parts[0]
        title = heading.title.rstrip()
        short_item = uses_keyword and len(title) <= 60  # "2. TWILIO INC." under ARTICLE 17
        if (number == state.top + 1 and not (state.keyword_top or state.roman)
                and title[:1].isupper() and len(title) <= 100 and len(next_line) <= 60
                and _wrapped(title, next_line)):
            # "2. Exploitant de la Plateforme, de l'Application et" / "des Services": a
            # numbered heading in sequence wrapped onto a short lowercase line (the pool's
            # CGU PDF; no sample outline changes).
            state.top, state.path, state.relative = number, (number,), 0
            state.keyword_top = False
            return (str(number), 1, f"{title} {next_line.strip()}")
        if not _heading_like(title, 120) or (title.endswith(".") and not short_item):
            if not re.match(r"^.{3,90}?\.\s+\S", heading.title.strip()):
                return None
        parent = (state.top_label if state.roman or state.keyword_top
                  else (str(state.top) if state.top else None))
        if (state.keyword_top or state.roman) and parent is not None:
            # Inside "ARTICLE 6." items "1.", "2." are 6.1, 6.2.
            if number == state.relative + 1:
                state.relative = number
                return (f"{parent}.{number}", 2, _heading_text(heading.title, next_line))
            return None
        if uses_keyword and state.section is None:
            return None
        item = re.match(r"^[a-z][.)]\s", next_line)  # "a. Le CLIENT…" opens the article
        if next_line[:1].islower() and not item and not heading.title.rstrip().endswith((".", ":")):
            return None
        if number == state.top + 1 or (state.top == 0 and number <= 2) or (
            number == state.top + 2 and len(heading.title.strip()) <= 60
        ):
            state.top, state.path, state.relative = number, (number,), 0
            state.keyword_top = False
            return (str(number), 1, _heading_text(heading.title, next_line))
        return None

    def _dotted(
        self, heading: _Heading, state: _State, next_line: str
    ) -> tuple[str, int, str | None] | None:
        parts = heading.parts
        if parts[0] not in (state.top, state.top + 1) or any(p == 0 for p in parts[1:]):
            return None
        if parts[0] == state.top + 1 and parts[1:] != (1,) * (len(parts) - 1):
            return None
        if not heading.title.strip() or not _heading_start(heading.title.strip()):
            return None
        parent = parts[:-1]
        known = state.path[: len(parent)] == parent or len(parent) == 1
        if not known:
            return None
        state.top, state.path = parts[0], parts
        return (".".join(str(p) for p in parts), len(parts),
                _heading_text(heading.title, next_line))

    def _close(self, state: _State, article: Article) -> None:
        while article.lines and not article.lines[-1].text.strip():
            article.lines.pop()
        while article.lines and not article.lines[0].text.strip():
            article.lines.pop(0)
        if article.number == PREAMBLE and not article.text.strip():
            return
        state.articles.append(article)


def _is_divider(text: str) -> bool:
    """A "TITRE II – …" or "Chapitre 3" line: a short title, not a sentence."""
    stripped = text.strip()
    match = _DIVIDER.match(stripped)
    return bool(match) and len(stripped) <= 120 and not stripped.endswith((".", ",", ";"))


def _heading_start(title: str) -> bool:
    return title[0].isupper() or title[0].isdigit() or title[0] in "«\"“'("


def _next_text(lines: list[Line], index: int) -> str:
    for line in lines[index + 1: index + 3]:
        if line.text.strip():
            return line.text.strip()
    return ""


def _upper_continues(lines: list[Line], index: int) -> bool:
    nxt = lines[index + 1].text if index + 1 < len(lines) else ""
    return bool(nxt.strip()) and is_upper_title(nxt) and _parse_heading(nxt) is None


def _restarts_after(lines: list[Line], index: int) -> bool:
    """True when the next numbered heading after this line restarts at 1."""
    following = [ln for ln in lines[index + 1: index + 40] if ln.text.strip()][:4]
    for line in following:
        heading = _parse_heading(line.text)
        if heading is None:
            continue
        if heading.kind in ("keyword", "numbered"):
            return heading.parts[0] == 1
        if heading.kind in ("annex", "unnumbered"):
            return True
    return False


def _first_section_label(lines: list[Line]) -> str:
    block: list[str] = []
    for line in lines[:15]:
        if line.text.strip() and is_upper_title(line.text):
            block.append(line.text)
        elif block:
            break
    return _section_label(block) if block else "Document principal"


# Lines that are never a title: a table-of-contents heading, a folio or a footer with one
# ("Cahier des Clauses Administratives Particulières Page 1 sur 38", issue 15).
_NOT_TITLE = re.compile(
    r"^(?:sommaire|table des mati[eè]res|contents)\b|\bpage\s+\d+\s*(?:/|sur|of)\s*\d+",
    re.IGNORECASE,
)


# What a contract calls itself: a title holding one of these is preferred to the lines above
# it (a public body's name, a date, a file name in a running header). General French names
# of contract documents, not taken from any corpus.
_KIND = re.compile(
    r"\b(?:contrat|convention|cahier|conditions\s+(?:g[ée]n[ée]rales|particuli[èe]res|d['’]"
    r"utilisation|de vente)|"
    r"accord|bail|engagement|charte|licence|avenant|protocole|march[ée]|mandat|annexe|"
    r"master services|data processing|agreement|CG[UV]S?U?)\b",
    re.IGNORECASE,
)
_SMALL_END = re.compile(r"\b(?:de|des|du|d['’]|et|pour|la|le|les|l['’]|à|au|aux|en|sur)$",
                        re.IGNORECASE)
_TITLE_LINES = 3  # a title wraps over at most three lines (the pool's PDFs: two)
# Lines that open what follows a title: the parties, a preamble, another title.
_AFTER_TITLE = re.compile(r"^(?:entre|pr[ée]ambule|expos[ée]|vu|article|le présent|"
                          r"il (?:est|a été) convenu)\b",
                          re.IGNORECASE)


def _document_title(lines: list[Line]) -> str:
    """The contract's title: the first title-like block before the first heading, preferring
    one that names a kind of contract; "" when the text starts with a heading.

    A title wraps over lines ("CAHIER DES CLAUSES" / "PARTICULIÈRES"); it never ends a
    sentence (a line ending with "." or ";" is text), and is never a table row, a folio or a
    table-of-contents heading.
    """
    texts: list[str] = []
    for line in lines[:40]:
        text = " ".join(line.text.split())
        if text and _parse_heading(text) is not None:
            break
        usable = text and not _NOT_TITLE.search(text) and " | " not in text
        texts.append(text if usable and len(text) <= 150 else "")
    starts = [i for i, t in enumerate(texts)
              if len(t) >= 4 and not _ends_sentence(t) and not _AFTER_TITLE.match(t)]
    levels = [line.heading_level for line in lines[: len(texts)]]
    chosen = next((i for i in starts if _KIND.search(texts[i])), next(
        (i for i in starts if levels[i] == 1 or (_is_capitals(texts[i])
                                                 and len(texts[i].split()) >= 3)), None))
    if chosen is None:
        return ""
    title = texts[chosen]
    for nxt in texts[chosen + 1: chosen + _TITLE_LINES]:
        if (not nxt or _ends_sentence(title) or nxt.endswith(":") or _AFTER_TITLE.match(nxt)
                or _KIND.search(nxt) or len(title) + len(nxt) > 150):
            break
        both_capitals = _is_capitals(title) and _is_capitals(nxt)
        if not (both_capitals or nxt[0].islower() or _SMALL_END.search(title)):
            break
        title = f"{title} {nxt}"
    return title if len(title) >= 8 else ""


def _ends_sentence(text: str) -> bool:
    """Text, not a title: it ends a sentence or introduces one (not a blank "……" to fill)."""
    return text.endswith((".", ";", ",", ":", "!", "?")) and not text.endswith(("..", "…"))


def _is_capitals(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


# A table-of-contents entry's title: what stands before its leader dots, tab or page number.
_CONTENTS_TITLE = re.compile(r"^(.*?\S)(?:\s*(?:\.{3,}|…{2,}|\t).*|\s+\d{1,3})?$")


def _title_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


def _by_contents(lines: list[Line], contents: Sequence[str]) -> list[Article]:
    """Sections of a contract without numbering, at the lines its table of contents lists
    ("Vocabulaire", "Sécurité" in a platform's CGU): each titled by its heading, which is
    also its label. Empty when the contents name fewer than two of its lines."""
    titles = {_title_key(m.group(1)) for entry in contents
              if (m := _CONTENTS_TITLE.match(entry.strip()))} - {""}
    articles = [Article(None, PREAMBLE, None, [], level=1)]
    for line in lines:
        text = " ".join(line.text.split())
        if text and len(text) <= 150 and _title_key(text) in titles:
            articles.append(Article(None, text, text, [line], level=1))
        else:
            articles[-1].lines.append(line)
    return [a for a in articles if a.lines] if len(articles) > 2 else []


def _paragraphs(lines: list[Line]) -> list[Article]:
    """Fallback when no article structure is found: one node per paragraph block."""
    out: list[Article] = []
    block: list[Line] = []
    for line in [*lines, Line("", 0, 0)]:
        if line.text.strip():
            block.append(line)
        elif block:
            out.append(Article(None, None, None, block, level=1))
            block = []
    return out
