"""The words of a contract file as other tools read them, for the parser's words-kept figure.

What counts is every word a lawyer may need: the words outside running headers and footers,
page numbers and tables of contents. Those are told apart here from the file itself (poppler's
positions, the PDF's own links, the DOCX's XML), never from the parser's decisions:

- PDF: `pdftotext -bbox-layout` gives every line with its position; lines that sit on the same
  baseline form a row. *Page furniture* is a row in the top or bottom band of its page that is
  a folio ("3", "- 3 -", "Page 3 sur 13", "3 / 19"), or whose text (digits normalised) comes
  back in those bands on at least half the pages (3 pages at least). A *table-of-contents
  entry* is a row that ends with a dot leader and a page number, or a row the PDF itself links
  to another place of the document (an internal link, as a word processor draws over each
  line of a generated table, a wrapped entry's first line included) on a page holding at least
  three such leader rows. Words are poppler's words, one by one (its text mode joins a word
  hyphenated at a line end, "ci-après" becoming "ciaprès").
- DOCX: every paragraph of the document's body, those in tables and nested tables included,
  each read once (python-docx's table cells repeat a merged cell's text for every grid cell it
  spans); headers and footers are separate parts of the file and are not read.
- Other files: their raw text.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_XHTML = "{http://www.w3.org/1999/xhtml}"
# Share of the page height, from the top and from the bottom, where running headers, footers
# and folios sit. Measured on the pool's 10 PDFs: their running lines start 2 to 5 % from the
# top (HubEE, DGFiP) and 87 to 97 % down (the CCAP's "Page 2 sur 13" at 87 %, iDocus's footer
# at 97 %); 15 % holds them all.
BAND_SHARE = 0.15
# A band row is a running header or footer when it comes back on this share of the pages, and
# on this many pages at least (headers skip the cover page, alternate between odd and even).
REPEAT_SHARE = 0.5
MIN_REPEAT_PAGES = 3
# A table-of-contents page holds at least this many leader rows (a form line "Fait à ......"
# is one row, with no page number).
MIN_LEADER_ROWS = 3
_FOLIO = re.compile(
    r"^(?:page\s*)?[-–—]?\s*\d{1,3}\s*[-–—]?(?:\s*(?:/|sur|of)\s*\d{1,3})?$", re.IGNORECASE
)
# A dot leader (four dots or ellipsis characters at least) and the page number that ends it.
_LEADER = re.compile(r"[.…]{4,}\s*(\d{1,3})$")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Row:
    """The words on one baseline of a page, left to right, with their vertical extent."""

    page: int
    top: float
    bottom: float
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Page:
    number: int
    height: float
    rows: list[Row]


@dataclass(frozen=True)
class Excluded:
    """A row left out of the reference, and why ("furniture" or "contents")."""

    row: Row
    reason: str


def independent_words(path: Path) -> tuple[list[str], list[Excluded]]:
    """The words of the file as another tool reads them, and the rows left out (PDF only)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages = pdf_pages(path)
        excluded = furniture(pages) + contents(pages, internal_links(path))
        left_out = {e.row for e in excluded}
        words = [w for p in pages for r in p.rows if r not in left_out for w in r.words]
        return words, excluded
    if suffix == ".docx":
        return docx_text(path).split(), []
    return path.read_text(encoding="utf-8", errors="replace").split(), []


def pdf_pages(path: Path) -> list[Page]:
    """Poppler's lines of each page, grouped in rows (lines sharing a baseline)."""
    xhtml = subprocess.run(["pdftotext", "-enc", "UTF-8", "-bbox-layout", str(path), "-"],
                           check=True, capture_output=True, text=True).stdout
    root = ET.fromstring(xhtml)
    pages = []
    for number, page in enumerate(root.iter(f"{_XHTML}page"), start=1):
        lines = [(float(ln.get("yMin", 0)), float(ln.get("yMax", 0)), float(ln.get("xMin", 0)),
                  tuple(w.text or "" for w in ln.iter(f"{_XHTML}word")))
                 for ln in page.iter(f"{_XHTML}line")]
        pages.append(Page(number, float(page.get("height", 0)), _rows(number, lines)))
    return pages


def _rows(page: int, lines: list[tuple[float, float, float, tuple[str, ...]]]) -> list[Row]:
    """Lines whose vertical middle falls within the row started above are on its baseline
    (a Word table of contents draws "4.3." and "Révision des prix ….. 11" apart)."""
    rows: list[list[tuple[float, float, float, tuple[str, ...]]]] = []
    for line in sorted(lines, key=lambda ln: (ln[0], ln[2])):
        middle = (line[0] + line[1]) / 2
        if rows and rows[-1][0][0] <= middle <= rows[-1][0][1]:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [Row(page, min(ln[0] for ln in row), max(ln[1] for ln in row),
                tuple(w for ln in sorted(row, key=lambda ln: ln[2]) for w in ln[3]))
            for row in rows]


def _band_rows(page: Page) -> list[Row]:
    band = page.height * BAND_SHARE
    return [r for r in page.rows if r.bottom <= band or r.top >= page.height - band]


def _band_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.split()).casefold())


def furniture(pages: list[Page]) -> list[Excluded]:
    """Rows of the top and bottom bands that are folios or come back on most pages."""
    on_pages: Counter[str] = Counter()
    for page in pages:
        on_pages.update({_band_key(r.text) for r in _band_rows(page)})
    limit = max(MIN_REPEAT_PAGES, REPEAT_SHARE * len(pages))
    return [Excluded(r, "furniture") for page in pages for r in _band_rows(page)
            if _FOLIO.match(r.text) or on_pages[_band_key(r.text)] >= limit]


def contents(pages: list[Page], links: dict[int, list[tuple[float, float]]]) -> list[Excluded]:
    """Rows ending with a dot leader and a page number, and on pages holding enough of them,
    the rows the PDF links to another place of the document."""
    out: list[Excluded] = []
    for page in pages:
        leaders = [r for r in page.rows
                   if (m := _LEADER.search(r.text)) and 0 < int(m.group(1)) <= len(pages)]
        if len(leaders) < MIN_LEADER_ROWS:
            continue
        linked = [r for r in page.rows if r not in leaders and any(
            top <= (r.top + r.bottom) / 2 <= bottom for top, bottom in links.get(page.number, []))]
        out.extend(Excluded(r, "contents") for r in leaders + linked)
    return out


def internal_links(path: Path) -> dict[int, list[tuple[float, float]]]:
    """Page number -> vertical extents (from the top, as poppler measures) of the link
    annotations that lead to a place of the same document."""
    from pypdf import PdfReader

    out: dict[int, list[tuple[float, float]]] = {}
    for number, page in enumerate(PdfReader(str(path)).pages, start=1):
        top = float(page.cropbox.top)
        for annotation in page.get("/Annots") or []:
            link = annotation.get_object()
            action = link.get("/A")
            internal = link.get("/Dest") is not None or (
                action is not None and action.get_object().get("/S") == "/GoTo")
            if link.get("/Subtype") == "/Link" and internal:
                _x0, y0, _x1, y1 = (float(v) for v in link["/Rect"])
                out.setdefault(number, []).append((top - max(y0, y1), top - min(y0, y1)))
    return out


def docx_text(path: Path) -> str:
    """Every paragraph of the body, in tables and nested tables too, each once; a text box's
    paragraphs once (not again in the drawing's fallback copy)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    doc = Document(str(path))
    fallback = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
    paragraphs = []
    for element in doc.element.body.iter(qn("w:p")):
        if any(parent.tag == fallback for parent in element.iterancestors()):
            continue
        paragraphs.append(Paragraph(element, doc).text)
    return "\n".join(paragraphs)
