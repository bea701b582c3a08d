"""Contracts converted to PDF (fpdf2, DejaVuSans) and DOCX (python-docx) keep their outline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.loaders import load
from ingest.models import ParsedDocument
from ingest.pipeline import parse_file
from ingest.structure import PREAMBLE
from tests.helpers_docs import auto_numbered_docx, require_font, text_to_docx, text_to_pdf

ROOT = Path(__file__).resolve().parents[1]
CRAFT = ROOT / "data" / "contracts" / "000_863f8398c9eb4693.txt"
NUMSPOT = ROOT / "data" / "contracts" / "002_7a0edd1b49b950df.txt"
KIMPLE = ROOT / "data" / "contracts" / "004_f17bc88fae2ffff9.txt"
CT_CGVU = ROOT / "data" / "extra-contracts" / "cloudtemple_cgvu.txt"
SOURCES = [CRAFT, NUMSPOT, KIMPLE, CT_CGVU]


def flat(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


def outline(doc: ParsedDocument) -> list[tuple[str | None, str | None, str | None]]:
    return [(a.section, a.number, flat(a.heading)) for a in doc.articles if a.number]


@dataclass
class Converted:
    source: Path
    reference: ParsedDocument
    pdf: Path
    docx: Path
    line_pages: list[int]  # PDF page of each source line
    start_line: dict[int, int]  # source offset of a line -> its index
    parsed: dict[str, ParsedDocument] = field(default_factory=dict)

    def parse(self, fmt: str) -> ParsedDocument:
        if fmt not in self.parsed:
            self.parsed[fmt] = parse_file(self.pdf if fmt == "pdf" else self.docx)[0]
        return self.parsed[fmt]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Converted]:
    require_font()  # fails with the fix when DejaVuSans is missing; never skips
    out = tmp_path_factory.mktemp("formats")
    result: dict[str, Converted] = {}
    for source in SOURCES:
        reference = parse_file(source)[0]
        lines = load(source).text.split("\n")
        start_line: dict[int, int] = {}
        offset = 0
        for i, line in enumerate(lines):
            start_line[offset] = i
            offset += len(line) + 1
        levels = {start_line[a.start]: a.level for a in reference.articles
                  if a.number and a.number != PREAMBLE}
        pdf = out / f"{source.stem}.pdf"
        docx = out / f"{source.stem}.docx"
        pages = text_to_pdf(lines, pdf)
        text_to_docx(lines, docx, levels)
        result[source.stem] = Converted(source, reference, pdf, docx, pages, start_line)
    return result


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_same_outline_as_text(converted: dict[str, Converted], source: Path, fmt: str) -> None:
    item = converted[source.stem]
    doc = item.parse(fmt)
    assert doc.sections == item.reference.sections
    assert outline(doc) == outline(item.reference)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pdf_keeps_page_numbers(converted: dict[str, Converted], source: Path) -> None:
    item = converted[source.stem]
    doc = item.parse("pdf")
    assert item.line_pages[-1] >= 3, "the test PDF should have several pages"
    # Compared in reading order, so that a wrong section label does not hide page errors.
    expected = [
        (a.number, item.line_pages[item.start_line[a.start]])
        for a in item.reference.articles if a.number and a.number != PREAMBLE
    ]
    got = [(a.number, a.pages[0]) for a in doc.articles if a.number and a.number != PREAMBLE]
    assert got == expected
    on_page_3 = [i for i, (_number, page) in enumerate(expected) if page == 3]
    assert on_page_3, "no article starts on page 3"
    assert all(got[i][1] == 3 for i in on_page_3)
    last = [a for a in doc.articles if a.number][-1]
    assert last.pages[-1] == item.line_pages[-1] or last.pages[-1] == item.line_pages[-1] - 1


def test_pdf_page_breaks_are_exact(tmp_path: Path) -> None:
    """One article per page: each article reports the page it was written on."""
    lines: list[str] = []
    for n in range(1, 6):
        lines += [f"{n}. Titre de l'article {n}", f"Le texte de l'article {n} est ici.", ""]
    pdf = tmp_path / "pages.pdf"
    pages = text_to_pdf(lines, pdf, lines_per_page=3)
    assert pages[-1] == 5
    doc = parse_file(pdf)[0]
    assert [(a.number, a.pages) for a in doc.articles] == [
        (str(n), [n]) for n in range(1, 6)
    ]


def test_text_form_feeds_count_pages(tmp_path: Path) -> None:
    path = tmp_path / "ff.txt"
    path.write_text(
        "1. Objet\nLe contrat a un objet.\n\f2. Durée\nUn an.\n\f\f3. Prix\nDix euros.\n",
        encoding="utf-8",
    )
    doc = parse_file(path)[0]
    assert [(a.number, a.pages) for a in doc.articles] == [("1", [1]), ("2", [2]), ("3", [4])]


def test_docx_automatic_numbering(tmp_path: Path) -> None:
    """Heading paragraphs with Word numbering (numPr) but no number in the text get numbers."""
    path = tmp_path / "auto.docx"
    auto_numbered_docx(path, [
        (1, "Objet", ["Le présent contrat définit les conditions du service."]),
        (1, "Durée", ["Le contrat est conclu pour une durée déterminée."]),
        (2, "Durée initiale", ["La durée initiale est de douze mois."]),
        (2, "Renouvellement", ["Le contrat est renouvelé tacitement par périodes d'un an."]),
        (1, "Responsabilité", ["La responsabilité du Prestataire est limitée."]),
    ])
    loaded = load(path)
    headings = [ln.text for ln in loaded.lines if ln.heading_level]
    assert headings == ["1. Objet", "2. Durée", "2.1. Durée initiale", "2.2. Renouvellement",
                        "3. Responsabilité"]
    doc = parse_file(path)[0]
    assert [(a.number, a.heading) for a in doc.articles if a.number != PREAMBLE] == [
        ("1", "Objet"), ("2", "Durée"), ("2.1", "Durée initiale"),
        ("2.2", "Renouvellement"), ("3", "Responsabilité"),
    ]


def test_docx_heading_with_its_own_number_is_not_renumbered(tmp_path: Path) -> None:
    path = tmp_path / "plain.docx"
    lines = ["CONTRAT DE TEST", "1. Objet", "Le contrat a un objet.",
             "2. Prix", "Le prix est fixé au bon de commande."]
    text_to_docx(lines, path, {1: 1, 3: 1})
    doc = parse_file(path)[0]
    assert [(a.number, a.heading) for a in doc.articles if a.number != PREAMBLE] == [
        ("1", "Objet"), ("2", "Prix")]
