"""Remove extraction noise: running headers and footers, page numbers, tables of contents.

Cleaning removes only what is provably layout and never rewrites the words a lawyer will quote:
text in capitals is text. Each kept line keeps its offset in the extracted text, and every
removed line is recorded with its reason so that ingest can report what was dropped.

Each rule and threshold below says what it was measured on: the sample contracts of
data/contracts (issue 2), the PDFs the tests build (tests/helpers_docs.py, tests/helpers_pdf.py)
and the pool of issue 15 (17 real contracts, eval/gold/pool).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from ingest.models import Line, Removal, WordCheck

# Invisible or non-breaking characters of word processors: soft hyphen, no-break spaces,
# zero-width space (no-break spaces in the sample's Craft and Kimple and in four pool files).
_SOFT = {"\u00ad": "", "\u00a0": " ", "\u202f": " ", "\u200b": ""}
# A folio: "12", "- 12 -", "Page 3", "3/12", "Page 3 sur 12" (the test PDFs and the pool's).
_PAGE_NUMBER = re.compile(
    r"^\s*[-–—]?\s*(?:page\s*)?\d{1,3}(?:\s*(?:/|sur|of)\s*\d{1,3})?\s*[-–—]?\s*$", re.IGNORECASE
)
# A table-of-contents entry: a title then a page number after tabs, dot leaders or 3+ spaces
# (the sample's NumSpot contents, Word's dot leaders in the pool's PDFs).
# Word prints "Erreur ! Signet non défini." for the page of an entry whose heading lost its
# bookmark (the pool's HubEE CGU: its last entry, "Contacts").
_TOC_ENTRY = re.compile(
    r"^\s*\S.{2,}?(?:\t+|\s*\.{4,}\s*|\s{3,})"
    r"(?:\d{1,3}|Erreur\s*!\s*Signet non d[ée]fini\.?|Error!\s*Bookmark not defined\.?)\s*$"
)
# A heading-like entry with its page number glued to the last word: "Article 3 Durée12",
# "3.1 Prix4" (what pypdf and PDFium return for a Word TOC whose tab leader was not drawn).
_TOC_GLUED = re.compile(
    r"^\s*(?:article|art\.|annexe|chapitre|titre|\d{1,2}(?:\.\d{1,2})*[.)]?\s|[IVX]{1,5}[.\s])"
    r".*[^\d\s.,;:%€$]\d{1,3}\s*$",
    re.IGNORECASE,
)
# A heading-like line (what a table of contents lists) used to recognise entries with no page
# number: "ARTICLE 4 - Prix", "4.2 Révision", "Annexe 1 : …" (the issue-15 CCAPs' contents).
_HEADING_START = re.compile(
    r"^\s*(?:article|art\.|annexe|chapitre|titre|\d{1,2}(?:\.\d{1,2})*[.)]?\s+\S|[IVX]{1,5}[.\s-])",
    re.IGNORECASE,
)
# An entry whose page number follows one space ("ARTICLE 1. Définitions 2"): what PDFium returns
# for a tab leader (measured on the NumSpot CGV printed by tests/test_formats.py). Only accepted
# in a run of mostly heading-like entries whose page numbers never decrease.
_TOC_SPACED = re.compile(r"^\s*\S.{2,118}?[^\s.,;:%€$]\s\d{1,3}\s*$")
_TRAILING_NUMBER = re.compile(r"(\d{1,3})\s*$")
# A table of contents' own title (the pool's "Sommaire", "Table des matières").
_TOC_TITLE = re.compile(
    r"^\s*(?:sommaire|table des mati[eè]res|table of contents|contents)\s*:?\s*$", re.IGNORECASE
)
# What follows an entry's title: leader dots, tabs or spaces and its page number.
_TOC_TAIL = re.compile(r"(?:\t+|\s*\.{2,}\s*|\s{2,})?\d{1,3}\s*$")
# "…end of sentence.  TITLE IN CAPITALS": a title extraction glued to the line above it, after
# 2 spaces and 3 capitalised words at least (once in the sample contracts: a Craft
# sub-document title after the last sentence of the one before).
_UPPER_TAIL = re.compile(
    r"^(.*?[.;:!?»)])\s{2,}((?:[A-ZÀ-Ý'’\"()«»]{2,}\s+){2,}[A-ZÀ-Ý'’\"()«»]{2,}.*)$"
)
# A web page's navigation link saved with the text ("Skip to main content": the sample's
# Kimple contract, first line).
_BOILERPLATE = re.compile(r"^\s*(skip to (main )?content|aller au contenu( principal)?)\s*$", re.I)
_DIGITS = re.compile(r"\d+")

# Running headers and footers are looked for among the first and last lines of each page:
# 8 lines hold the deepest band seen in our test PDFs and in the issue-15 reports (a header
# listing five sub-document titles, a two-line "Cahier … / Page 6 sur 13" footer).
BAND_LINES = 8
# A band line is a running header or footer when it repeats (digits normalised) on at least
# this share of the pages, and on 3 pages at least: headers often skip the cover page and
# alternate between odd and even pages, so half the pages is the bar (as before issue 15).
REPEAT_SHARE = 0.5
MIN_REPEAT_PAGES = 3
# A table of contents without a title is a run of at least this many heading-like entries
# (a two-line "Montant minimum 100 / Montant maximum 500" table is not one).
MIN_TOC_ENTRIES = 3
# A table-of-contents entry is one title: at most 150 characters (the longest in the pool's
# contents, the HubEE CGU's, is 105 before its leader dots).
MAX_ENTRY_CHARS = 150

HEADER = "en-tête ou pied de page"
PAGE_NUMBER = "numéro de page"
CONTENTS = "sommaire"
BOILERPLATE = "navigation web"


@dataclass(frozen=True)
class Cleaned:
    """The kept lines and, for each removed line, why it was removed."""

    lines: list[Line]
    removed: list[Removal]


# A Symbol or Wingdings glyph in the private-use range (U+F020 to U+F0FF: "\uf0b7", "\uf0a7"),
# what Word's bullets and check boxes become in a PDF's text: a bullet, so a list stays a list
# and no private character reaches a quote (4 pool files, 111 such characters, all bullets or
# boxes in front of an item).
_SYMBOL_FONT = re.compile("[\uf020-\uf0ff]")


def normalise_characters(text: str) -> str:
    for char, repl in _SOFT.items():
        text = text.replace(char, repl)
    return _SYMBOL_FONT.sub("•", text)


def is_upper_title(text: str) -> bool:
    """A line mostly in capitals, like a sub-document title ("ACCORD DE TRAITEMENT ..."): 85 %
    of at least 6 letters are capitals, so "CONDITIONS GÉNÉRALES D'UTILISATION (« CGU »)" is
    one and a sentence naming "LE CLIENT" is not (the sample's Craft sub-document titles)."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 6:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= 0.85


def clean(lines: list[Line]) -> list[Line]:
    """Return the document's lines without noise, in order, with their source offsets."""
    return clean_with_report(lines).lines


def clean_with_report(lines: list[Line]) -> Cleaned:
    """Clean the lines and record every removed line with its reason."""
    lines = [replace(ln, text=normalise_characters(ln.text).rstrip()) for ln in lines]
    lines = _split_glued_titles(lines)
    reasons: dict[int, str] = {}
    paged = len({ln.page for ln in lines}) > 1
    # Running headers and footers found first are skipped inside a table of contents: one that
    # runs over two pages has a footer between its entries ("CGU ….odt 3", which itself ends
    # with a number, in the pool's DGFiP CGU); they are then found again around it.
    reasons.update(_table_of_contents(lines, set(_running_headers(lines, {}))))
    reasons.update(_running_headers(lines, reasons))
    for i, ln in enumerate(lines):
        if i in reasons:
            continue
        if not paged and _PAGE_NUMBER.match(ln.text):  # no pages: a lone number is a folio
            reasons[i] = PAGE_NUMBER
        elif _BOILERPLATE.match(ln.text):
            reasons[i] = BOILERPLATE
    kept = [ln for i, ln in enumerate(lines) if i not in reasons]
    removed = [
        Removal(lines[i].text.strip(), lines[i].page, reason)
        for i, reason in sorted(reasons.items()) if lines[i].text.strip()
    ]
    return Cleaned(kept, removed)


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


def _is_toc_entry(text: str) -> bool:
    if _PAGE_NUMBER.match(text):  # "Page 1 / 4" is a folio, not an entry
        return False
    return bool(_TOC_ENTRY.match(text) or _TOC_GLUED.match(text) or _TOC_SPACED.match(text))


def _is_contents_run(texts: list[str]) -> bool:
    """Entries form a table of contents: enough of them, page numbers that never go back, and
    (when the number follows a single space, as PDFium returns a tab leader) headings."""
    entries = [t for t in texts if t.strip()]
    if len(entries) < MIN_TOC_ENTRIES:
        return False
    numbers = [int(m.group(1)) for t in entries if (m := _TRAILING_NUMBER.search(t))]
    if numbers != sorted(numbers):
        return False
    # Entries whose number follows one space ("loose"); a wrapped entry's first line has none.
    loose = [t for t in entries if _TRAILING_NUMBER.search(t)
             and not (_TOC_ENTRY.match(t) or _TOC_GLUED.match(t))]
    return sum(1 for t in loose if _HEADING_START.match(t)) * 2 >= len(loose)


def _toc_key(text: str) -> str:
    """An entry or heading without its page number, dot leaders and spacing, casefolded."""
    return " ".join(_TOC_TAIL.sub("", text).replace(".", " ").split()).casefold()


def _table_of_contents(lines: list[Line], furniture: set[int]) -> dict[int, str]:
    """Index -> reason for the lines of tables of contents.

    A run of at least three entries ending with a page number ("Titre ..... 12", "Titre\\t12",
    "Article 3 Durée12") is one; so is the run of heading-like lines under a "SOMMAIRE" title
    whose entries all come back later in the text as headings (a table without page numbers).
    The "SOMMAIRE" line itself is kept: it is one word, and the outline shows it is not a title.
    The lines of `furniture` (running headers, footers, page numbers) may sit inside a run; they
    are neither entries nor removed as such.
    """
    removed: dict[int, str] = {}
    i = 0
    while i < len(lines):
        # With the first lines of wrapped entries, else (when that run is no table of
        # contents) without them, as before issue 15's HubEE CGU.
        for wrapped in (True, False):
            j = _run_end(lines, i, wrapped, furniture)
            entries = _until_page_goes_back(lines, [k for k in range(i, j) if k not in furniture])
            if _is_contents_run([lines[k].text for k in entries]):
                removed.update({k: CONTENTS for k in entries})
                i = entries[-1]
                break
        i += 1
    for i, line in enumerate(lines):
        if _TOC_TITLE.match(line.text):
            removed.update(_entries_without_numbers(lines, i + 1, removed))
    return removed


def _until_page_goes_back(lines: list[Line], entries: list[int]) -> list[int]:
    """The entries up to the first whose page number is lower than the one before: a table of
    contents never goes back, and what follows it after a page's footer may end with a number
    too ("Article 1 – Clause numéro 1", the first heading of the tests' printed contracts)."""
    last = 0
    for n, k in enumerate(entries):
        if match := _TRAILING_NUMBER.search(lines[k].text):
            if int(match.group(1)) < last:
                return entries[:n]
            last = int(match.group(1))
    return entries


def _run_end(lines: list[Line], start: int, wrapped: bool, furniture: set[int]) -> int:
    """The end of the run of entries from `start`, blank lines inside it included, and the
    running footer and header between two pages once the run holds MIN_TOC_ENTRIES entries (a
    table of contents that goes on over the page: 19 entries before the footer in the pool's
    DGFiP CGU; pages that each hold one heading ending with a number are no such run)."""
    if start in furniture:
        return start
    j, entries = start, 0
    while j < len(lines):
        text = lines[j].text
        if _is_toc_entry(text) or (wrapped and j > start and _wrapped_entry(lines, j)):
            entries += 1
        elif j == start or not (not text or (j in furniture and entries >= MIN_TOC_ENTRIES)):
            break
        j += 1
    return j


def _wrapped_entry(lines: list[Line], index: int) -> bool:
    """The first line of an entry that wrapped: between two entries, its title goes on on the
    next line, whose leader dots end it ("Traitements effectués … via" / "DataPass ….. 5", the
    pool's HubEE CGU; "Déclaration de conformité … des données" / "à caractère personnel …… 7",
    the DGFiP CGU's). A sentence would end with a stop."""
    text = lines[index].text.strip()
    return (index + 1 < len(lines) and _is_toc_entry(lines[index + 1].text)
            and 0 < len(text) <= MAX_ENTRY_CHARS and not text.endswith((".", ";", ":", ","))
            and _is_toc_entry(lines[index - 1].text))


def _entries_without_numbers(
    lines: list[Line], first: int, known: dict[int, str]
) -> dict[int, str]:
    """The heading-like lines after a "SOMMAIRE" title that reappear later as headings."""
    found: dict[int, str] = {}
    j = first
    while j < len(lines):
        text = lines[j].text
        if j in known or not text.strip():
            j += 1
            continue
        if not _HEADING_START.match(text):
            break
        key = _toc_key(text)
        if not any(_toc_key(ln.text) == key for ln in lines[j + 1:] if ln.text.strip()):
            break
        found[j] = CONTENTS
        j += 1
    return found if len(found) >= MIN_TOC_ENTRIES else {}


def _band_key(text: str) -> str:
    """A line compared across pages: digits normalised ("Page 6 sur 13" = "Page 7 sur 13").

    A numbered heading ("ARTICLE 3", "4.2 Prix") is compared as written: pages that each open
    with an article are not a running header.
    """
    text = " ".join(text.split()).casefold()
    return text if _HEADING_START.match(text) else _DIGITS.sub("#", text)


def _running_headers(lines: list[Line], known: dict[int, str]) -> dict[int, str]:
    """Index -> reason for running headers, footers and page numbers of a paged document.

    Only the first and last BAND_LINES non-blank lines of each page are looked at; from the top
    (and from the bottom) of a page, lines are removed while they repeat across pages or are a
    page number, and the walk stops at the first line of the body.
    """
    pages: dict[int, list[int]] = {}
    for i, ln in enumerate(lines):
        if ln.text.strip() and i not in known:
            pages.setdefault(ln.page, []).append(i)
    if len(pages) < MIN_REPEAT_PAGES:
        return {}
    limit = max(MIN_REPEAT_PAGES, int(len(pages) * REPEAT_SHARE))
    tops = [indexes[:BAND_LINES] for indexes in pages.values()]
    bottoms = [indexes[::-1][:BAND_LINES] for indexes in pages.values()]
    in_band = {i for band in tops + bottoms for i in band}
    # A line also found in the middle of a page is body text, even when it repeats at the edges.
    middle = {_band_key(lines[i].text) for idx in pages.values() for i in idx if i not in in_band}
    removed: dict[int, str] = {}
    for bands in (tops, bottoms):
        # A running header sits at the same rank from the page edge on every page; body lines
        # that happen to repeat (digits normalised) rarely do.
        counts = Counter(
            (rank, _band_key(lines[i].text)) for band in bands for rank, i in enumerate(band)
        )
        for band in bands:
            for rank, i in enumerate(band):
                text = lines[i].text
                key = _band_key(text)
                if _PAGE_NUMBER.match(text):
                    removed[i] = PAGE_NUMBER
                elif key not in middle and counts[(rank, key)] >= limit:
                    removed[i] = HEADER
                else:
                    break
    return removed


def check_words(extracted: list[Line], cleaned: Cleaned) -> WordCheck:
    """Compare the words extracted with the words kept; every difference must be a removal."""
    source = Counter(word for ln in extracted for word in normalise_characters(ln.text).split())
    kept = Counter(word for ln in cleaned.lines for word in ln.text.split())
    removed = Counter(word for r in cleaned.removed for word in r.text.split())
    unexplained = source - kept - removed
    return WordCheck(
        extracted=sum(source.values()),
        kept=sum(kept.values()),
        removed=list(cleaned.removed),
        unexplained=sum(unexplained.values()),
    )
