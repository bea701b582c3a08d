"""Parse a contract's article structure from its cleaned lines.

The parser walks the lines once and decides, for each numbered line, whether it opens an
article, a sub-article, a sub-document or an annex, or is only a numbered list item. It uses
the numbering itself (continuity, parents, restarts), the document's own heading styles and
table of contents, and runs of lettered items read as a whole, rather than any knowledge of a
sample.

Each rule and threshold says what it was measured on: "the sample contracts" are the five of
data/contracts (issue 2, their outlines checked in tests/test_structure.py), "the extra
contracts" those of data/extra-contracts, "the synthetic contracts" those of
data/synthetic-contracts, and "the pool" the 17 real contracts of issue 15 whose hand outlines
are in eval/gold/pool/outlines (`contractqa eval --outlines`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from french.normalize import fold
from ingest.cleaning import is_upper_title
from ingest.models import Article, Line, ParsedDocument

PREAMBLE = "Préambule"

# "ARTICLE 3 -", "Article 3.2 :", "Art. 3 –", "Article 1er", "Article premier", "ARTICLE IV –"
# (the sample contracts; "Art.", "1er", "premier" and romans from the synthetic contracts).
_KEYWORD = re.compile(
    r"^(?:ARTICLE|Article|ART\.|Art\.)\s*(\d+(?:\.\d+)*(?:\s*(?i:bis|ter|quater)\b)?|PREMIER|"
    r"[Pp]remier|[IVX]{1,6})\s*(?:er)?\b\s*"
    r"(?:[.:\-–—]\s*|\s+|$)(.*)$"
)
# "3. Titre", "3.2 Titre", "3 - TITRE", "3 – Titre" (the sample and synthetic contracts).
# Dash variants seen in the issue-15 CCAPs: "3.1 –Durée du contrat", "3.1- Durée" (a dash
# glued to the number or to the title, but never "3-4 jours": a digit after the dash is a range).
# "3.1. – Destination" (a dash after the number's stop: the pool-3 lease) and "3.a. Le
# Prêteur…" (a lettered paragraph of article 3: the pool-3 loan agreement) are numbered too.
_NUMBERED = re.compile(
    r"^(\d{1,3}(?:\.\d{1,3})*(?:\.[a-z](?=\.))?)"
    r"(?:\.\s*[-–—]\s*(?=[^\d\s])|\.\s*|\s*[-–—]\s*(?=[^\d\s])|\s+)(?=\S)(.*)$"
)
# "TITRE II – CONDITIONS FINANCIÈRES", "Chapitre 3": groups articles without numbering them
# (the synthetic contracts); see _chapter for one whose number starts its articles' numbers.
_DIVIDER = re.compile(
    r"^(?:TITRE|Titre|CHAPITRE|Chapitre)\s+(?:[IVX]{1,6}|\d{1,2}|PREMIER|[Pp]remier|1er)\b"
    r"\s*(?:[-–—.:]\s*.*)?$"
)
# "10.Responsabilité": a number glued to its capitalised title (the sample's Craft MSA).
_GLUED = re.compile(r"^(\d{1,3})\.([A-ZÀ-Ý«\"“].*)$")
# "6. Article 6 – Confidentialité": the keyword repeated after the number (the sample's Craft MSA).
_REDUNDANT = re.compile(r"^(?:ARTICLE|Article)\s+\d+\s*[.:\-–—]\s*")
# "6-1 Gratification…": a sub-article numbered with a hyphen (the internship agreement of the
# pool, beside its "6.2"); only accepted as the next sub-article of the current article, so a
# range ("3-4 jours") or an address ("10-12 Rue…") is never one.
_HYPHENATED = re.compile(r"^(\d{1,2})-(\d{1,2})\s+(?=[A-ZÀ-Ý«\"“])(.*)$")
# "V. Obligations des Parties": roman parts of an annex (the sample's NumSpot DPA).
_ROMAN = re.compile(r"^([IVX]{1,5})\.\s+(\S.*)$")
# "1) Location saisonnière:" - articles numbered with a parenthesis, a short heading (at most
# 60 characters) on the number's line (the pool-2 seasonal-rental terms, 13 articles). Only
# as a document's own article numbering: never inside "ARTICLE N" nor after "N." articles,
# where "1)" opens list items.
_PAREN = re.compile(r"^(\d{1,2})\)\s*(\S.{0,59})$")
# "A. Titre" opening the lettered parts of an annex (the sample's Craft annex A, issue 2).
_LETTER = re.compile(r"^([A-H])\.\s+(\S.*)$")
# Lettered and ordinal sub-headings: "A. Titre", "a. Titre", "a) Titre", "1°) Titre", "1° Titre"
# (the pool's licence, SaaS terms and lease). Whether a run of them are headings is decided by
# _sub_headings, on the whole run.
_ITEM = re.compile(
    r"^(?:(?P<letter>[A-Za-z])(?P<mark>[.)])|(?P<ordinal>\d{1,2})°\s*[.)\-–—:]?)\s+(?P<title>\S.*)$"
)
# "SLA3 – Titre": a code numbering the parts of an annex (the sample's NumSpot SLA annex).
_CODE = re.compile(r"^([A-Z]{2,5}\d{1,2})\s*[-–—]\s*:?\s*(\S.*)$")
# "ANNEXE 2 – …", "1. Annexe A – …" (the sample's Craft and NumSpot annexes).
_ANNEX = re.compile(
    r"^(?:\d{1,2}\.\s*)?ANNEXE\s+([A-Z]|\d{1,2}|[IVX]{1,5})\b\s*[-–—.:]?\s*(.*)$", re.IGNORECASE
)
# A preamble's own heading (the sample contracts).
_UNNUMBERED = re.compile(r"^(pr[ée]ambule|avertissement)\s*:?$", re.IGNORECASE)
# The acronym a sub-document names itself by, "(MSA)", "« DPA »": its section label (the
# sample's Craft contract, whose eight sub-documents restart their numbering).
_ACRONYM = re.compile(r"[(\"“«]\s*\"?([A-Z]{2,6})\"?\s*[)\"”»]")
_ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
           "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX"]


@dataclass
class _Heading:
    kind: str  # "keyword", "numbered", "roman", "letter", "code", "annex", "unnumbered",
    # "chapter"
    parts: tuple[int, ...]
    label: str
    title: str
    rest_start: int  # offset of the title in the line
    dashed: bool = False  # a dash separates the number from the title: "1.1 - la boutique"


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
    paren: bool = False  # the section's articles are numbered "1)", "2)"
    numbered_styles: bool = False  # styled headings take numbers (see _styled_number)
    # The article lettered and ordinal sub-headings belong to: its label ("" for a section
    # labelled by its heading) and level; None before the first article of the section.
    parent: tuple[str, int] | None = None
    run_parents: dict[int, tuple[str, int]] = field(default_factory=dict)  # see _item_article
    articles: list[Article] = field(default_factory=list)


# Words that open a sentence, so "8.2 La responsabilité du Concédant est…" is a numbered
# paragraph, not a heading (the sample contracts, issue 2); a short title starting with one
# ("6. Le prix") is still a heading: see _short_title.
_SENTENCE_START = re.compile(
    r"^(?:Le|La|Les|L['’]|Un|Une|Ce|Cet|Cette|Ces|Chaque|Tout|Toute|Tous|Aucun|Aucune|Il|Elle|"
    r"Si|Lorsque|Dans|En cas|Par dérogation|Sous réserve|Nonobstant|Sans préjudice|Conformément|"
    r"En application|[ÀA] défaut|Toutefois|Sauf)\b"
)
# Small words a heading never ends with: a line ending with one wraps onto the next ("… de la"
# / "protection des données", the pool's DGFiP terms; "… et aux" / "Services", its CGU).
_CONNECTORS = ("et", "ou", "de", "des", "du", "la", "le", "les", "à", "en", "pour", "par", "au",
               "aux", "un", "une", "sur", "dans", "d’", "d'", "l’", "l'", "&", "/", "-", "–")
# A heading that starts like a sentence is still one when it has at most this many words and no
# final stop: "Le prix", "Les engagements des parties", "La qualité de service" (4 words at
# most in the pool's DGFiP, FirstCloud and iDocus terms); a sentence of 5 words or fewer with no
# stop and no continuation does not occur in the sample or pool contracts.
SHORT_TITLE_WORDS = 5
# A numbered title longer than this is a paragraph, unless it holds no sentence end and the next
# line starts a new one: a whole heading paragraph of a DOCX or text file ("6-1 Gratification
# d'un montant maximum de 15 % …", 130 and 200 characters in the pool's internship agreement).
# A PDF line is shorter than this in every sample and pool PDF.
TITLE_CHARS = 110
LONG_TITLE_CHARS = 250
# The second line of a wrapped heading is short: at most 60 characters in the pool's PDFs
# ("protection des données à caractère personnel", 45; "ARRET DE LA MISSION", 19), where a
# wrapped body sentence fills the line (85 to 100 characters).
WRAP_CHARS = 60
# Lettered and ordinal sub-headings: a run of at least 2 in sequence (a., b., …), each at most
# 100 characters long (the longest in the pool: 62, "F. LIMITATION ET EXCLUSION DE
# RESPONSABILITÉ EN CAS DE DOMMAGES."), each followed by body text before the next.
MIN_ITEM_RUN = 2
ITEM_TITLE_CHARS = 100


def _lowercase_word(text: str) -> bool:
    """The line starts with a word in lower case ("assurance …", "d’un"), as a continuation
    does; "iDocus" (a name with a capital inside, the pool's iDocus terms) is not one."""
    word = text.split()[0] if text.split() else ""
    return bool(word) and word[0].islower() and not any(c.isupper() for c in word)


def _open_end(title: str) -> bool:
    """The title stops on a small word or a joining sign: it goes on on the next line."""
    words = title.split()
    return bool(words) and words[-1].lower() in _CONNECTORS


def _short_title(title: str, next_line: str) -> bool:
    """"Le prix": a short heading starting with a sentence word, not a sentence."""
    words = title.split()
    return (0 < len(words) <= SHORT_TITLE_WORDS and not title.endswith((".", ";", ","))
            and not _open_end(title) and not _lowercase_word(next_line))


def _heading_like(title: str, limit: int = 150) -> bool:
    """A title that can head an article: at most `limit` characters (150: the longest heading
    of the sample contracts has 102), starting with a capital, a digit or a quote, not
    ending a list item (";", ",") nor stopping on a small word."""
    title = title.strip()
    if not title or len(title) > limit or title.endswith((";", ",")):
        return False
    if _open_end(title):  # a wrapped sentence, not a heading
        return False
    first = title[0]
    return first.isupper() or first in "«\"“'(" or first.isdigit()


def _heading_text(title: str, next_line: str, keyword: bool = False) -> str | None:
    """The heading of "Heading. Body text…"; None for a numbered paragraph with no heading."""
    title = title.strip()
    if keyword:  # "Article 13 : Les sous-traitants ultérieurs" is always a heading
        heading = title.rstrip(" .:").lstrip(" -–—").strip()  # "Art. 2. – Durée"
        below = _SEPARATOR_START.sub("", next_line)  # "Art. 1er" / ". – Objet" (pool, PDFium)
        if not heading and _standalone_title(below):  # "ARTICLE 3" then "PRIX" below it
            return below.rstrip(" .:").strip()
        if heading and _wrapped(title, next_line):
            heading = f"{heading} {next_line.rstrip(' .:').strip()}"
        return heading or None
    if _SENTENCE_START.match(title) and not _short_title(title, next_line):
        return None  # "8.2 La responsabilité du Concédant est…"
    # "16.2 Intégralité. Le Contrat constitue…": a heading of at most 9 words and 70
    # characters run into its first sentence (the sample's Craft MSA, 16.1 to 16.11).
    sentence = re.match(r"^(.{3,70}?)\.\s+(\S.*)$", title)
    if sentence and len(sentence.group(1).split()) <= 9:
        return sentence.group(1).strip()
    if _wrapped(title, next_line) and len(next_line) <= WRAP_CHARS:
        return f"{title} {next_line.strip()}".rstrip(" .:")
    continues = _lowercase_word(next_line) and not re.match(r"^[a-z][.)]\s", next_line)
    if continues and not title.endswith((".", ":")):
        return None
    if len(title) > TITLE_CHARS and not _long_title(title, next_line):
        return None
    return title.rstrip(" .:").strip() or None


def _long_title(title: str, next_line: str) -> bool:
    """A whole heading paragraph: no sentence end inside or at its end, the next line starts
    anew."""
    return (len(title) <= LONG_TITLE_CHARS and not re.search(r"[.;]\s", title)
            and not title.endswith((".", ";", ",")) and not _lowercase_word(next_line))


# The punctuation after an article number that extraction put on the next line: "Art. 1er" then
# ". – Objet" (PDFium on the pool's partnership convention).
_SEPARATOR_START = re.compile(r"^[.:]\s*(?:[-–—]\s*)?")


def _wrapped(title: str, next_line: str) -> bool:
    """The heading wrapped onto the next line: "Article 4 – Obligations … et à leur" then
    "assurance pendant le transport" (a lowercase, unpunctuated line; the test PDFs of
    tests/test_pdf_layout.py). A body sentence starts with a capital or ends with a stop.
    Two more wraps, from the pool's PDFs: a title ending with a small word then a short
    capitalised line ("… et aux" / "Services"), and a title in capitals then a short line in
    capitals ("ARTICLE 18 – TRAITEMENT DES DONNEES" / "PERSONNELLES", a two-column PDF)."""
    title = title.rstrip()
    # 200 characters: no heading of the test PDFs or the pool is longer once joined.
    if (not next_line or len(title) + len(next_line) > 200
            or title.endswith((".", ":", ";", ",")) or next_line.endswith((".", ":", ";", ","))
            or re.match(r"^[a-z][.)]\s", next_line)):
        return False
    if _lowercase_word(next_line):
        return True
    short = len(next_line) <= WRAP_CHARS and _parse_heading(next_line) is None
    capitals = is_upper_title(title) and is_upper_title(next_line)
    return short and (_open_end(title) or capitals)


def _standalone_title(line: str) -> bool:
    """A line that titles the article numbered just above it, not its first sentence."""
    if not line or _parse_heading(line) is not None or line.endswith((".", ",", ";")):
        return False
    # "ARTICLE 3" then "PRIX": a title in capitals up to 100 characters, else up to 60 (the
    # synthetic contracts and tests/test_structure.py; body lines are longer or are sentences).
    if is_upper_title(line):
        return len(line) <= 100
    return len(line) <= 60 and _heading_like(line) and not _SENTENCE_START.match(line)


def _parse_heading(text: str) -> _Heading | None:
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    if match := _ANNEX.match(stripped):
        title = match.group(2).strip()
        # An annex heading is one line of at most 150 characters, not a sentence naming an
        # annex ("Annexe 2 : les prix figurent…"; the sample's Craft and NumSpot contracts).
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
        # A letter counts from 1: "3.a" is (3, 1), "3.b" (3, 2).
        parts = tuple(int(p) if p.isdigit() else ord(p) - ord("a") + 1
                      for p in match.group(1).split("."))
        title = match.group(2)
        start = offset + match.start(2)
        if redundant := _REDUNDANT.match(title):  # "6. Article 6 – Confidentialité"
            title, start = title[redundant.end():], start + redundant.end()
        dashed = bool(re.search(r"[-–—]", stripped[match.end(1):match.start(2)]))
        return _Heading("numbered", parts, match.group(1), title, start, dashed)
    if match := _HYPHENATED.match(stripped):
        parts = (int(match.group(1)), int(match.group(2)))
        return _Heading("numbered", parts, f"{parts[0]}-{parts[1]}", match.group(3),
                        offset + match.start(3))
    if match := _PAREN.match(stripped):
        return _Heading("paren", (int(match.group(1)),), match.group(1), match.group(2),
                        offset + match.start(2))
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
    """A sub-document's label: its acronym, else its first 6 words (the sample's Craft)."""
    title = " ".join(t.strip() for t in title_lines)
    if match := _ACRONYM.search(title):
        return match.group(1)
    return " ".join(title.split()[:6]).title()


def _uses_keyword(lines: list[Line]) -> bool:
    """A contract with two "ARTICLE N" lines numbers its articles with the keyword: a bare
    "2." is then an item (the sample's Graham DPA, "2. TWILIO INC." under ARTICLE 17)."""
    return sum(1 for ln in lines if _KEYWORD.match(ln.text.strip())) >= 2


@dataclass
class _Walk:
    """One document being read line by line: what was found before the walk, the article being
    filled and what surrounds it."""

    lines: list[Line]
    items: dict[int, _Item]  # lettered and ordinal sub-headings, by line index
    styles: _Styles | None
    uses_keyword: bool
    state: _State = field(default_factory=_State)
    current: Article = field(default_factory=lambda: Article(None, PREAMBLE, None, [], level=1))
    sections: list[str] = field(default_factory=list)
    pending_title: list[Line] = field(default_factory=list)  # a sub-document's title lines
    carried: bool = False  # `current` holds only a divider title and what follows it
    title_only: bool = False  # `current` is a sub-document's preamble holding only its title


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
        walk = _Walk(lines, _sub_headings(lines), _styles(lines), _uses_keyword(lines))
        for index, line in enumerate(lines):
            self._step(walk, index, line)
        self._close(walk.state, walk.current)
        return self._outline(document_id, _document_title(lines), walk, contents)

    def _step(self, walk: _Walk, index: int, line: Line) -> None:
        """Read one line: it opens an article, a section or a divider, or goes on the current
        article."""
        text = line.text
        state = walk.state
        if index in walk.items and (parent := _item_parent(state, walk.items[index])):
            self._open(walk, _item_article(state, walk.items[index], parent, line))
            return
        heading = _parse_heading(text) if text.strip() else None
        if heading is None and (level := _styled_level(line, walk.styles, state)):
            self._open(walk, _styled_article(state, line, level,
                                             _styled_number(walk.lines, index, state)))
            return
        if heading is None and _is_divider(text):
            heading = _chapter(walk.lines, index)
        if (heading is None and text.strip() and is_upper_title(text) and state.top
                and _restarts_after(walk.lines, index)):
            # A capitalised title followed by numbering that restarts: a sub-document.
            self._sub_document_title(walk, index, line)
            return
        if heading is None and _is_divider(text):
            self._divider(walk, line)
            return
        next_line = _next_text(walk.lines, index)
        if heading is None or (
                accepted := self._accept(heading, state, walk.uses_keyword, next_line)) is None:
            walk.current.lines.append(line)
            walk.title_only = walk.title_only and not text.strip()
            return
        self._open_heading(walk, heading, accepted, line)

    def _open(self, walk: _Walk, article: Article) -> None:
        """Close the current article and go on with `article` (a sub-heading, a styled one)."""
        self._close(walk.state, walk.current)
        walk.current = article
        walk.carried = walk.title_only = False

    def _sub_document_title(self, walk: _Walk, index: int, line: Line) -> None:
        """A line of a sub-document's title; its last line opens the sub-document's section,
        whose preamble holds the title."""
        walk.pending_title.append(line)
        if _upper_continues(walk.lines, index):
            return
        label = _section_label([ln.text for ln in walk.pending_title])
        self._close(walk.state, walk.current)
        if not walk.sections and walk.state.articles:
            first = _first_section_label(walk.lines)
            walk.sections.append(first)
            for art in walk.state.articles:
                art.section = first
        walk.sections.append(label)
        walk.state = _State(section=label, articles=walk.state.articles)
        title = " ".join(ln.text.strip() for ln in walk.pending_title)
        walk.current = Article(label, PREAMBLE, title, walk.pending_title, level=1)
        walk.pending_title, walk.title_only = [], True

    def _divider(self, walk: _Walk, line: Line) -> None:
        """A title grouping the next articles: it leads the next article's text."""
        self._close(walk.state, walk.current)
        walk.current = Article(walk.state.section, None, None, [line], level=1)
        walk.carried, walk.title_only = True, False

    def _open_heading(self, walk: _Walk, heading: _Heading,
                      accepted: tuple[str, int, str | None], line: Line) -> None:
        """Open the article (or annex) of an accepted heading."""
        number, level, head_text = accepted
        annex = heading.kind == "annex"
        # A divider leads the next article; a title over the annexes ("ANNEXES") leads the
        # first annex (the sample's Craft), so its words stay in the outline.
        lead = (walk.current.lines
                if (walk.carried and not annex) or (walk.title_only and annex) else [])
        walk.title_only = False
        if not lead:
            self._close(walk.state, walk.current)
        walk.carried = False
        if annex:
            self._open_annex(walk, heading, head_text, [*lead, line])
            return
        walk.current = Article(walk.state.section, number, head_text, [*lead, line], level=level)
        walk.state.parent = (number, level) if number != PREAMBLE else None

    def _open_annex(self, walk: _Walk, heading: _Heading, head_text: str | None,
                    lines: list[Line]) -> None:
        label = f"Annexe {heading.label}"
        if label in walk.sections:  # a cross-reference list, not a new annex
            walk.current = Article(walk.state.section, None, None, lines, level=1)
            return
        if not walk.sections and walk.state.articles:
            walk.sections.append("")
        walk.sections.append(label)
        walk.state = _State(section=label, articles=walk.state.articles)
        walk.current = Article(label, PREAMBLE, head_text, lines, level=1)

    def _outline(self, document_id: str, title: str, walk: _Walk,
                 contents: Sequence[str]) -> ParsedDocument:
        """The document from the articles read; with too few numbered ones, its sections
        named by the table of contents, else its paragraphs."""
        articles = walk.state.articles
        used = {a.section for a in articles}
        sections = [s for s in walk.sections if s in used]
        if len(sections) < 1:
            for art in articles:
                art.section = None
        numbered = [a for a in articles if a.number and a.number != PREAMBLE]
        if len(numbered) < self.min_articles:
            headed = _by_contents(walk.lines, contents)
            if len(headed) > self.min_articles:
                return ParsedDocument(document_id, title, headed, [])
            return ParsedDocument(document_id, title, _paragraphs(walk.lines), [], fallback=True)
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
        if kind == "chapter":  # "CHAPITRE 2 : …" whose articles are numbered 2.1, 2.2…
            state.top, state.path, state.relative, state.roman = parts[0], parts, 0, 0
            state.keyword_top, state.top_label = False, heading.label
            return (heading.label, 1, heading.title.rstrip(" .:").strip() or None)
        if kind == "keyword":
            if not heading.label[0].isdigit() and not _in_sequence(heading, state):
                return None  # "ARTICLE IV" only in sequence: I, II, III…
            if len(parts) == 1 and parts[0] < state.top and any(
                    a.number == heading.label and a.section == state.section
                    for a in state.articles):
                # "Article 2 – Remboursement…" inside article 26 names the article 2 it amends
                # (the pool-3 lease's particular terms). An article not yet seen keeps its
                # place: the pool's internship DOCX prints 7 to 9 after 13.
                return None
            if len(parts) == 1:
                state.top, state.path, state.relative, state.roman = parts[0], parts, 0, 0
                state.keyword_top, state.top_label = True, heading.label
                return (heading.label, 1, _heading_text(heading.title, next_line, True))
            return self._dotted(heading, state, next_line)
        if kind == "roman":  # "I.", "II." in sequence, before any numbered article (NumSpot DPA)
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
        if kind == "letter":  # "A." to "H." in sequence in an annex with no number (Craft)
            expected = chr(ord("A") + state.letter)
            if (heading.label == expected and not state.top and not state.roman
                    and state.section and _heading_like(heading.title, 100)):
                state.letter += 1
                return (heading.label, 1, heading.title.rstrip(" .:"))
            return None
        if kind == "paren":
            if uses_keyword or state.keyword_top or state.roman or (state.top and not state.paren):
                return None
            opened = self._single(heading, state, uses_keyword, next_line)
            state.paren = state.paren or opened is not None
            return opened
        if len(parts) == 1:
            if state.paren:
                return None  # "1." items inside articles numbered "1)"
            return self._single(heading, state, uses_keyword, next_line)
        return self._dotted(heading, state, next_line)

    def _single(
        self, heading: _Heading, state: _State, uses_keyword: bool, next_line: str
    ) -> tuple[str, int, str | None] | None:
        number = heading.parts[0]
        title = heading.title.rstrip()
        # "2. TWILIO INC." under ARTICLE 17: a short item (60 characters, the sample's Graham).
        short_item = uses_keyword and len(title) <= 60
        if (number == state.top + 1 and not (state.keyword_top or state.roman)
                and title[:1].isupper() and len(title) <= 100 and len(next_line) <= 60
                and _wrapped(title, next_line)):
            # "2. Exploitant de la Plateforme, de l'Application et" / "des Services": a
            # numbered heading in sequence wrapped onto a short lowercase line (the pool's
            # CGU PDF; no sample outline changes).
            state.top, state.path, state.relative = number, (number,), 0
            state.keyword_top = False
            return (str(number), 1, f"{title} {next_line.strip()}")
        # A numbered heading is at most 120 characters and no sentence, unless it runs into
        # its first sentence ("3. Durée. Le contrat…", 90 characters: the sample contracts).
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
        ends = heading.title.rstrip().endswith((".", ":"))
        if _lowercase_word(next_line) and not item and not ends:
            return None
        # In sequence; the first article may be 1 or 2 (the sample's NumSpot DPA list opens
        # on "2."); one number may be skipped by a short heading (60 characters; a skipped
        # number with a long title is a list item). Written for the sample contracts; as of
        # issue 15 no sample, extra, synthetic or pool contract skips a number.
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
        # "4.2" inside article 4, or "5.1" opening article 5; "4.2.1" under a known "4.2"
        # (the sample contracts' numbering, down to Kimple's 11.2.12.2).
        if parts[0] not in (state.top, state.top + 1) or any(p == 0 for p in parts[1:]):
            return None
        if parts[0] == state.top + 1 and parts[1:] != (1,) * (len(parts) - 1):
            return None
        title = heading.title.strip()
        if not title or not (_heading_start(title)
                             or _lowercase_sub_heading(heading, state, next_line)):
            return None
        parent = parts[:-1]
        known = state.path[: len(parent)] == parent or len(parent) == 1
        if not known:
            return None
        if "-" in heading.label and parts != (state.top, _next_sub(state)):
            return None  # "6-1" only as the next sub-article of article 6
        state.top, state.path = parts[0], parts
        label = (heading.label if not heading.label.replace(".", "").isdigit()
                 else ".".join(str(p) for p in parts))
        return (label, len(parts), _heading_text(heading.title, next_line))

    def _close(self, state: _State, article: Article) -> None:
        while article.lines and not article.lines[-1].text.strip():
            article.lines.pop()
        while article.lines and not article.lines[0].text.strip():
            article.lines.pop(0)
        if article.number == PREAMBLE and not article.text.strip():
            return
        state.articles.append(article)


def _in_sequence(heading: _Heading, state: _State) -> bool:
    """A roman "ARTICLE VII" follows VI, or repeats the article just opened when it is a
    heading of its own (two "ARTICLE VII" in one contract stay two articles), or skips up to
    two numbers with a heading of its own when its numeral has two letters or more ("ARTICLE
    IX - CONFORMITE" after VII: the pool-2 maintenance DOCX has no VIII; one letter could be a
    code's "Article L." or "D.")."""
    if heading.parts[0] == state.top + 1:
        return True
    title = heading.title.strip().lstrip("-–—:. ").strip()
    if (len(heading.label) >= 2 and state.top < heading.parts[0] <= state.top + 3
            and _heading_like(title)):
        return True
    repeated = state.keyword_top and heading.label == state.top_label
    return repeated and _heading_like(heading.title)


def _next_sub(state: _State) -> int:
    """The number the next sub-article of the current article takes (1 after the article)."""
    return state.path[1] + 1 if len(state.path) == 2 and state.path[0] == state.top else 1


@dataclass(frozen=True)
class _Item:
    """A lettered or ordinal line: "b. Sécurité" is ("a.", 2, "b", "Sécurité")."""

    index: int
    style: str  # the kind of marker: "a.", "A)", "°"…
    value: int  # its place in the run: a = 1, b = 2; 3° = 3
    mark: str  # as printed, without its punctuation: "b", "3°"
    title: str
    first: int = -1  # the line index of the first item of its run


def _item_of(index: int, text: str) -> _Item | None:
    match = _ITEM.match(text.strip())
    if match is None:
        return None
    title = match.group("title")
    if letter := match.group("letter"):
        style = ("A" if letter.isupper() else "a") + match.group("mark")
        return _Item(index, style, ord(letter.lower()) - ord("a") + 1, letter, title)
    value = int(match.group("ordinal"))
    return _Item(index, "°", value, f"{value}°", title)


def _item_runs(lines: list[Line]) -> list[list[_Item]]:
    """Runs of items in sequence with the same marker (a., b., c. or 1°, 2°): a new run starts
    at a or 1°, an item out of sequence ends its run, and an "ARTICLE", annex or chapter
    heading ends them all."""
    runs: list[list[_Item]] = []
    open_runs: dict[str, list[_Item]] = {}
    for index, line in enumerate(lines):
        text = line.text.strip()
        item = _item_of(index, text) if text else None
        if item is None:
            heading = _parse_heading(text) if text else None
            if (heading and heading.kind in ("keyword", "annex")) or _is_divider(text):
                open_runs = {}
            continue
        run = open_runs.get(item.style)
        if item.value == 1:
            open_runs[item.style] = [replace(item, first=index)]
            runs.append(open_runs[item.style])
        elif run and item.value == run[-1].value + 1:
            run.append(replace(item, first=run[0].index))
        else:
            open_runs.pop(item.style, None)
    return runs


def _sub_headings(lines: list[Line]) -> dict[int, _Item]:
    """Line index -> item, for the lettered and ordinal lines that head sub-articles: those of
    a run where every item reads as a heading (an enumeration inside a sentence does not). A
    lone item ("1°) Causes" alone in its article, the pool's lease) is one when it reads as a
    heading and runs of the same marker elsewhere in the contract are headings."""
    runs = [(run, _run_is_heading(lines, run)) for run in _item_runs(lines)]
    styles = {run[0].style for run, heading in runs if heading and len(run) >= MIN_ITEM_RUN}
    found: dict[int, _Item] = {}
    for run, heading in runs:
        if heading and (len(run) >= MIN_ITEM_RUN or run[0].style in styles):
            found.update((item.index, item) for item in run)
    return found


def _run_is_heading(lines: list[Line], run: list[_Item]) -> bool:
    following: list[_Item | None] = [*run[1:], None]
    return all(_item_is_heading(lines, item, nxt) for item, nxt in zip(run, following, strict=True))


def _item_is_heading(lines: list[Line], item: _Item, following: _Item | None) -> bool:
    """A short title on its own line, followed by body text before the next item.

    "a) la fourniture du logiciel ;" (an enumeration), "a) Le Prestataire informe … qu'il a"
    (a long clause continued below) and items on consecutive lines (a list) are not headings.
    A title ending with a stop is one only when styled as a heading or in capitals ("C.
    EXCLUSIONS DE LA GARANTIE.", the pool's licence).
    """
    title = item.title.strip()
    if (len(title) > ITEM_TITLE_CHARS or not _heading_start(title)
            or title.endswith((";", ",")) or _open_end(title)):
        return False
    if title.endswith(".") and not (lines[item.index].heading_level or is_upper_title(title)):
        return False
    end = following.index if following else len(lines)
    body = [ln.text.strip() for ln in lines[item.index + 1: end] if ln.text.strip()]
    return bool(body) and not _lowercase_word(body[0])


def _item_parent(state: _State, item: _Item) -> tuple[str, int] | None:
    """The article a lettered sub-heading belongs to: the current one, or the one the first
    item of its run belonged to ("V.A", numbered items V.1…V.15, then "V.B": the sample's
    NumSpot annex). None before the first article, and under a numbered sub-article: where a
    contract numbers its sub-articles ("3.3", "4.3.1"), letters below them mark paragraphs (the
    sample's Graham DPA, whose "A. Chiffrement des données :" lists under 4.3.1 made smaller
    chunks that lost two of its gold questions from the top 5); the pool's lettered and "1°)"
    sub-headings all sit right under an article or a section."""
    if state.parent is None:
        return None
    parent = state.parent
    first = state.run_parents.get(item.first)
    if first is not None and (parent[0] == first[0] or parent[0].startswith(first[0] + ".")):
        parent = first
    return parent if parent[1] == 1 else None


def _item_article(state: _State, item: _Item, parent: tuple[str, int], line: Line) -> Article:
    """A lettered sub-article, numbered after its article ("9.a", "5.1°") or, under a section
    labelled by its heading, by its letter alone ("A")."""
    label, level = parent
    state.run_parents[item.first] = parent
    number = f"{label}.{item.mark}" if label else item.mark
    return Article(state.section, number, item.title.strip().rstrip(" .:") or None, [line],
                   level=level + 1)


@dataclass(frozen=True)
class _Styles:
    """The heading style (Markdown "##", Word "Heading 2") that marks the contract's articles."""

    level: int
    nested: bool  # no numbered article is styled: deeper styled headings are sub-sections


def _styles(lines: list[Line]) -> _Styles | None:
    """The style level of the numbered article headings ("## 1. Objet"); for a contract whose
    only structure is heading styles, the shallowest level used at least twice (a title styled
    once above it is not a section). None when the articles are numbered but not styled: the
    numbering gives the structure (and a styled title over restarted numbering stays a
    sub-document, see StructureParser.parse)."""
    articles = [ln for ln in lines if _is_article_heading(ln.text)]
    numbered = Counter(ln.heading_level for ln in articles if ln.heading_level)
    if numbered:
        return _Styles(numbered.most_common(1)[0][0], nested=False)
    if len(articles) >= 2:
        return None
    levels = Counter(ln.heading_level for ln in lines if ln.heading_level and ln.text.strip())
    repeated = sorted(level for level, count in levels.items() if count >= 2)
    return _Styles(repeated[0], nested=True) if repeated else None


def _is_article_heading(text: str) -> bool:
    heading = _parse_heading(text)
    return heading is not None and heading.kind in ("keyword", "numbered") and len(
        heading.parts) == 1


def _styled_level(line: Line, styles: _Styles | None, state: _State) -> int:
    """The article level (1, or 2 under a styled section) of an unnumbered line styled as a
    heading ("## GARANTIE LIMITEE" among "## 1. Objet"…); 0 when it opens nothing. Beside
    numbered articles, only after the first one (a styled title above them is the title)."""
    text = line.text.strip()
    if styles is None or line.heading_level is None or not text or len(text) > 150:
        return 0
    if not styles.nested:
        return 1 if line.heading_level == styles.level and state.parent is not None else 0
    if line.heading_level < styles.level:
        return 0
    return 1 if line.heading_level == styles.level else 2


def _styled_article(state: _State, line: Line, level: int, number: int | None = None
                    ) -> Article:
    """A section with no number, labelled by its heading (as ingest.chunking labels it); with
    `number` (see _styled_number), article `number` under that heading."""
    text = " ".join(line.text.split())
    state.relative, state.keyword_top = 0, False
    if number is not None:
        state.top, state.path, state.numbered_styles = number, (number,), True
        state.parent = (str(number), 1)
        return Article(state.section, str(number), text, [line], level=1)
    state.parent = ("", level)
    return Article(state.section, text, text, [line], level=level)


def _styled_number(lines: list[Line], index: int, state: _State) -> int | None:
    """The number of a styled heading that prints none while the paragraphs under it are
    numbered "2.1", "2.2"… (Word numbering lost on the headings only: the pool-3 NDA, a Google
    Docs export): 2. A heading with no numbered paragraph takes the number after the previous
    one's, once numbering has begun; the heading just before the first numbered one takes the
    number before it ("Définitions" over "Engagements", 2.1…: 1)."""
    own = _first_sub_number(lines, index)
    if own is not None and own > state.top:
        return own
    if state.numbered_styles:
        return state.top + 1
    following = next((j for j in range(index + 1, len(lines))
                      if lines[j].heading_level is not None and lines[j].text.strip()), None)
    then = _first_sub_number(lines, following) if following is not None else None
    return then - 1 if then is not None and then - 1 > max(state.top, 0) else None


def _first_sub_number(lines: list[Line], index: int) -> int | None:
    """N when the paragraphs under the styled heading at `index` (up to the next styled
    heading) hold a numbered "N.1" one."""
    for line in lines[index + 1:]:
        if line.heading_level is not None and line.text.strip():
            return None
        heading = _parse_heading(line.text) if line.text.strip() else None
        if heading and heading.kind == "numbered" and heading.parts[1:] == (1,):
            return heading.parts[0]
    return None


_DIVIDER_PARTS = re.compile(
    r"^(?:TITRE|Titre|CHAPITRE|Chapitre)\s+([IVX]{1,6}|\d{1,2})\b\s*[-–—.:]?\s*(.*)$"
)


def _chapter(lines: list[Line], index: int) -> _Heading | None:
    """A "CHAPITRE 2 : DESCRIPTION" divider whose articles are numbered 2.1, 2.2… is article 2
    (the pool's guarding CCP); one over articles numbered on their own ("TITRE II" over
    "ARTICLE 5", the synthetic contracts) stays a divider."""
    match = _DIVIDER_PARTS.match(lines[index].text.strip())
    if match is None:
        return None
    label = match.group(1)
    value = int(label) if label.isdigit() else roman_value(label)
    following = [ln.text for ln in lines[index + 1: index + 4] if ln.text.strip()][:1]
    heading = _parse_heading(following[0]) if following else None
    if value is None or heading is None or heading.kind not in ("keyword", "numbered"):
        return None
    if heading.parts != (value, 1):
        return None
    offset = lines[index].text.index(match.group(2)) if match.group(2) else 0
    return _Heading("chapter", (value,), str(value), match.group(2), offset)


def _is_divider(text: str) -> bool:
    """A "TITRE II – …" or "Chapitre 3" line: a short title (120 characters; the synthetic
    contracts' longest is 62), not a sentence."""
    stripped = text.strip()
    match = _DIVIDER.match(stripped)
    return bool(match) and len(stripped) <= 120 and not stripped.endswith((".", ",", ";"))


def _lowercase_sub_heading(heading: _Heading, state: _State, next_line: str) -> bool:
    """"1.1 - la boutique": a sub-heading in lower case, taken only when a dash follows the
    number, it is the next sub-article of the current article, short (at most WRAP_CHARS)
    with no punctuation of a sentence, and the next line starts a new sentence or is a heading
    ("5.3 - obligations réciproques" then "5.3.a : de l'acheteur") (the pool-4
    online-shop CGV, all 51 of its lower-case sub-headings; no other contract of the sample, extra,
    synthetic or pool corpora changes outline)."""
    title = heading.title.strip()
    return (heading.dashed and len(heading.parts) == 2
            and heading.parts == (state.top, _next_sub(state))
            and len(title) <= WRAP_CHARS and not re.search(r"[.;:,!?]", title)
            and (next_line[:1].isupper() or _parse_heading(next_line) is not None))


def _heading_start(title: str) -> bool:
    return title[0].isupper() or title[0].isdigit() or title[0] in "«\"“'("


def _next_text(lines: list[Line], index: int) -> str:
    """The next non-blank line, within two lines (one blank line between paragraphs)."""
    for line in lines[index + 1: index + 3]:
        if line.text.strip():
            return line.text.strip()
    return ""


def _upper_continues(lines: list[Line], index: int) -> bool:
    nxt = lines[index + 1].text if index + 1 < len(lines) else ""
    return bool(nxt.strip()) and is_upper_title(nxt) and _parse_heading(nxt) is None


def _restarts_after(lines: list[Line], index: int) -> bool:
    """True when the next numbered heading after this line restarts at 1: looked for among
    the next 4 non-blank lines within 40 (a sub-document of the sample's Craft has two title
    lines and a version line before its "1.")."""
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
    """The first sub-document's label, from the capitalised block in the first 15 lines (the
    sample's Craft, whose MSA title is its second line)."""
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
_CONTENTS_TAIL = re.compile(r"(?:\.{3,}|…{2,}|\t|\s\d{1,3}\s*$)")
# A heading wraps over at most this many lines (two in the pool's HubEE CGU).
HEADING_LINES = 3


def _title_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


def _contents_titles(contents: Sequence[str]) -> set[str]:
    """The keys of the entries' titles; an entry that wrapped (a first line with no leader
    dots nor page number) is joined to the line after it."""
    titles: set[str] = set()
    start = ""
    for entry in contents:
        entry = f"{start} {entry.strip()}".strip()
        if not _CONTENTS_TAIL.search(entry):
            start = entry
            continue
        start = ""
        if match := _CONTENTS_TITLE.match(entry):
            titles.add(_title_key(match.group(1)))
    return titles - {""}


def _listed_heading(lines: list[Line], index: int, titles: set[str]) -> int:
    """How many lines, from `index`, hold a heading the contents list (0 when none): a
    heading wraps like the text ("Traitements effectués sur … Service en" / "Ligne"). A list
    item repeating a title ("• Les traitements effectués … Instructeurs.") is not one."""
    first = lines[index].text.strip()
    if not first or not first[0].isalnum() or first.endswith((".", ";", ",")):
        return 0
    key = ""
    for count, line in enumerate(lines[index: index + HEADING_LINES], 1):
        text = " ".join(line.text.split())
        if not text or len(text) > 150:
            return 0
        key = f"{key} {_title_key(text)}".strip()
        if key in titles:
            return count
        if not any(title.startswith(key + " ") for title in titles):
            return 0
    return 0


def _by_contents(lines: list[Line], contents: Sequence[str]) -> list[Article]:
    """Sections of a contract without numbering, at the lines its table of contents lists
    ("Vocabulaire", "Sécurité" in a platform's CGU): each titled by its heading, which is
    also its label. Empty when the contents name fewer than two of its lines."""
    titles = _contents_titles(contents)
    articles = [Article(None, PREAMBLE, None, [], level=1)]
    index = 0
    while index < len(lines):
        if count := _listed_heading(lines, index, titles):
            heading = " ".join(" ".join(ln.text.split()) for ln in lines[index: index + count])
            articles.append(Article(None, heading, heading, lines[index: index + count], level=1))
        else:
            count = 1
            articles[-1].lines.append(lines[index])
        index += count
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
