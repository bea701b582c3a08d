"""Build test PDF and DOCX files from plain-text contracts (fpdf2 and python-docx)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contractqa.service import ContractQA
    from contractqa.settings import Settings

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def require_font() -> Path:
    """The Unicode TTF font the PDF builder needs; fail (never skip) with the fix when missing."""
    if not DEJAVU.is_file():
        raise AssertionError(
            f"font {DEJAVU} not found: the PDF tests need a Unicode TTF font. "
            "Install it with `apt-get install fonts-dejavu-core`."
        )
    return DEJAVU


def text_to_pdf(
    lines: list[str],
    out: Path,
    *,
    lines_per_page: int | None = None,
    font_size: float = 7.5,
) -> list[int]:
    """Write `lines` as a text PDF (one PDF line per source line, A4 landscape, small font).

    Returns the page (1-based) on which each source line was written. With `lines_per_page`,
    a new page starts after that many lines; otherwise fpdf2 breaks pages automatically.
    Lines too wide for the page are wrapped by fpdf2 (as a real export would).
    """
    from fpdf import FPDF

    font = require_font()
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.set_margins(8, 8, 8)
    pdf.add_font("DejaVu", "", str(font))
    pdf.set_font("DejaVu", size=font_size)
    pdf.add_page()
    pages: list[int] = []
    height = font_size * 0.45
    for i, line in enumerate(lines):
        if (lines_per_page and i and i % lines_per_page == 0) or pdf.will_page_break(height):
            pdf.add_page()
        pages.append(pdf.page_no())
        text = line.replace("\t", "    ").rstrip()
        if not text.strip():
            pdf.ln(height)
        elif pdf.get_string_width(text) < pdf.epw - 2:
            pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")  # much faster
        else:
            pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(out))
    return pages


def blank_pdf(out: Path, pages: int = 1) -> None:
    """A PDF with blank pages only (like a scan without a text layer)."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60)  # some drawing, but no text
    pdf.output(str(out))


def text_to_docx(
    lines: list[str],
    out: Path,
    heading_levels: dict[int, int] | None = None,
) -> None:
    """Write one paragraph per line; lines listed in `heading_levels` get "Heading N" styles."""
    from docx import Document

    heading_levels = heading_levels or {}
    doc = Document()
    for i, line in enumerate(lines):
        level = heading_levels.get(i)
        text = line.rstrip()
        if level is not None and text.strip():
            doc.add_paragraph(text.strip(), style=f"Heading {min(max(level, 1), 2)}")
        else:
            doc.add_paragraph(text)
    doc.save(str(out))


def auto_numbered_docx(out: Path, items: Iterable[tuple[int, str, list[str]]]) -> None:
    """A DOCX whose heading paragraphs carry Word automatic numbering (w:numPr), no number text.

    `items` are (level, heading text without number, body paragraphs).
    """
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    doc = Document()
    doc.add_paragraph("CONDITIONS GÉNÉRALES DE TEST")
    for level, heading, body in items:
        paragraph = doc.add_paragraph(heading, style=f"Heading {level}")
        ppr = paragraph._p.get_or_add_pPr()
        numpr = OxmlElement("w:numPr")
        ilvl = OxmlElement("w:ilvl")
        ilvl.set(qn("w:val"), str(level - 1))
        numid = OxmlElement("w:numId")
        numid.set(qn("w:val"), "1")
        numpr.append(ilvl)
        numpr.append(numid)
        ppr.append(numpr)
        for text in body:
            doc.add_paragraph(text)
    doc.save(str(out))


def encrypted_pdf(source: Path, out: Path, password: str = "secret") -> None:
    """Copy a PDF with a user password (pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(source)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with out.open("wb") as handle:
        writer.write(handle)


MAINTENANCE_TITLE = "CONTRAT DE MAINTENANCE ZEPHYRIN"

# A contract whose text carries HTML: the UI, API and widget must show it as text, never run it.
HOSTILE_CONTRACT = """CONTRAT DE PRESTATION PIÉGÉ

ARTICLE 1 - OBJET
Le présent contrat a pour objet la fourniture d'un service de démonstration \
<script>alert(1)</script> au Client, dans les conditions ci-après.

ARTICLE 2 - PÉNALITÉS DE RETARD
En cas de retard de livraison, le Prestataire verse une pénalité forfaitaire \
<img src=x onerror=alert(1)> de cent euros par jour ouvré de retard.
"""


def maintenance_docx(path: Path) -> Path:
    """A small DOCX contract with real heading styles (a penalty of 777 euros in article 2)."""
    from docx import Document

    doc = Document()
    doc.add_paragraph(MAINTENANCE_TITLE)
    doc.add_paragraph("Article 1 - Objet", style="Heading 1")
    doc.add_paragraph("Le présent contrat a pour objet la maintenance des ascenseurs du Client.")
    doc.add_paragraph("Article 2 - Pénalités de retard", style="Heading 1")
    doc.add_paragraph(
        "En cas de retard d'intervention sur les ascenseurs, le Prestataire versera au Client "
        "une pénalité de 777 euros par jour calendaire de retard."
    )
    doc.add_paragraph("Article 3 - Durée", style="Heading 1")
    doc.add_paragraph("Le contrat est conclu pour une durée de trois ans.")
    doc.save(str(path))
    return path


def service_over(settings: Settings, path: Path, text: str) -> ContractQA:
    """A service over one contract written from `text` to `path` and ingested."""
    from contractqa.service import ContractQA

    path.write_text(text, encoding="utf-8")
    service = ContractQA(settings)
    report = service.ingest([path])
    assert report.ok, [r.message for r in report.results]
    return service
