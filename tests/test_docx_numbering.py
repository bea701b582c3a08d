"""DOCX as Word renders it (issue 15): automatic multilevel numbering from numbering.xml for
headings and list paragraphs, numbering carried by a style, restarts, tables in body order."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn

from ingest.loaders import load
from ingest.pipeline import parse_file
from ingest.structure import PREAMBLE

NUMBERING = f"""<w:numbering {nsdecls("w")}>
  <w:abstractNum w:abstractNumId="10">
    <w:multiLevelType w:val="multilevel"/>
    <w:lvl w:ilvl="0"><w:start w:val="1"/>
      <w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>
    <w:lvl w:ilvl="1"><w:start w:val="1"/>
      <w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/></w:lvl>
    <w:lvl w:ilvl="2"><w:start w:val="1"/>
      <w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%3)"/></w:lvl>
  </w:abstractNum>
  <w:abstractNum w:abstractNumId="20">
    <w:lvl w:ilvl="0"><w:start w:val="1"/>
      <w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1."/></w:lvl>
  </w:abstractNum>
  <w:abstractNum w:abstractNumId="30">
    <w:lvl w:ilvl="0"><w:start w:val="1"/>
      <w:numFmt w:val="bullet"/><w:lvlText w:val="•"/></w:lvl>
  </w:abstractNum>
  <w:num w:numId="5"><w:abstractNumId w:val="10"/></w:num>
  <w:num w:numId="6"><w:abstractNumId w:val="20"/></w:num>
  <w:num w:numId="7"><w:abstractNumId w:val="20"/>
    <w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>
  <w:num w:numId="8"><w:abstractNumId w:val="30"/></w:num>
</w:numbering>"""


def _number(paragraph: object, num_id: int, ilvl: int) -> None:
    """Give a paragraph (or a style element) a w:numPr, as Word's list buttons do."""
    element = getattr(paragraph, "_p", paragraph)
    ppr = element.get_or_add_pPr()
    numpr = OxmlElement("w:numPr")
    for tag, value in (("w:ilvl", ilvl), ("w:numId", num_id)):
        child = OxmlElement(tag)
        child.set(qn("w:val"), str(value))
        numpr.append(child)
    ppr.append(numpr)


def ccap_docx(path: Path) -> None:
    """A public-procurement CCAP as Word saves it: no article number is in the text."""
    doc = Document()
    doc.part.numbering_part._element = parse_xml(NUMBERING)
    # A custom heading style that carries the list itself (numbering via the style).
    style = doc.styles.add_style("Titre article 1", WD_STYLE_TYPE.PARAGRAPH)
    _number(style.element, 5, 0)
    sub = doc.styles.add_style("Titre article 2", WD_STYLE_TYPE.PARAGRAPH)
    _number(sub.element, 5, 1)
    doc.add_paragraph("CAHIER DES CLAUSES ADMINISTRATIVES PARTICULIÈRES")
    doc.add_paragraph("Objet du marché", style="Titre article 1")
    doc.add_paragraph("Le marché a pour objet la maintenance des ascenseurs.")
    doc.add_paragraph("Durée", style="Titre article 1")
    doc.add_paragraph("Durée initiale", style="Titre article 2")
    doc.add_paragraph("Le marché est conclu pour douze mois à compter de sa notification.")
    doc.add_paragraph("Reconduction", style="Titre article 2")
    doc.add_paragraph("Le marché est reconductible trois fois.")
    doc.add_paragraph("Prix", style="Titre article 1")
    doc.add_paragraph("Les prix sont révisés selon les conditions suivantes :")
    for text in ("l'indice BT48 publié au Moniteur ;", "la formule de l'annexe ;"):
        _number(doc.add_paragraph(text), 5, 2)
    _number(doc.add_paragraph("une clause butoir de 4 %."), 8, 0)
    table = doc.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Prestation", "Prix HT"), ("Visite", "120 €"),
                                       ("Dépannage", "90 €")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    doc.add_paragraph("Le tableau ci-dessus fixe les prix unitaires.")
    doc.add_paragraph("Pénalités", style="Titre article 1")
    doc.add_paragraph("Une pénalité de 50 € par jour de retard est appliquée.")
    for num_id, items in ((6, ["Premier motif", "Second motif"]), (7, ["Autre motif"])):
        for text in items:
            _number(doc.add_paragraph(text), num_id, 0)
    doc.save(str(path))


def test_numbers_printed_as_word_renders_them(tmp_path: Path) -> None:
    path = tmp_path / "ccap.docx"
    ccap_docx(path)
    texts = [ln.text for ln in load(path).lines if ln.text.strip()]
    assert texts[1:4] == ["1. Objet du marché",
                          "Le marché a pour objet la maintenance des ascenseurs.", "2. Durée"]
    assert "2.1 Durée initiale" in texts and "2.2 Reconduction" in texts
    assert "a) l'indice BT48 publié au Moniteur ;" in texts
    assert "b) la formule de l'annexe ;" in texts
    assert "une clause butoir de 4 %." in texts  # a bullet gets no number
    assert "4. Pénalités" in texts
    # Two lists on one definition continue; a w:startOverride restarts.
    assert texts[-3:] == ["I. Premier motif", "II. Second motif", "I. Autre motif"]


def test_tables_read_in_body_order_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "ccap.docx"
    ccap_docx(path)
    texts = [ln.text for ln in load(path).lines if ln.text.strip()]
    at = texts.index("Prestation | Prix HT")
    assert texts[at + 1: at + 4] == ["Visite | 120 €", "Dépannage | 90 €",
                                     "Le tableau ci-dessus fixe les prix unitaires."]
    assert texts[at - 1] == "une clause butoir de 4 %."


def test_outline_from_automatic_numbering(tmp_path: Path) -> None:
    path = tmp_path / "ccap.docx"
    ccap_docx(path)
    parsed = parse_file(path)[0]
    assert [(a.number, a.heading) for a in parsed.articles if a.number != PREAMBLE] == [
        ("1", "Objet du marché"), ("2", "Durée"), ("2.1", "Durée initiale"),
        ("2.2", "Reconduction"), ("3", "Prix"), ("4", "Pénalités"),
    ]
    prix = next(a for a in parsed.articles if a.number == "3")
    assert "Visite | 120 €" in prix.text and "b) la formule de l'annexe ;" in prix.text
    assert parsed.words.unexplained == 0


def test_a_layout_table_is_read_cell_by_cell(tmp_path: Path) -> None:
    """A contract laid out in a two-column table (a national model form): each cell's
    paragraphs are lines, so its articles are found; a data table stays one row a line."""
    doc = Document()
    doc.add_paragraph("CONVENTION DE STAGE")
    layout = doc.add_table(rows=1, cols=2)
    left, right = layout.rows[0].cells
    left.paragraphs[0].text = "Article 1 – Objet"
    left.add_paragraph("La présente convention règle les rapports entre les parties. " * 4)
    left.add_paragraph("Article 2 – Durée")
    left.add_paragraph("Le stage dure trois mois à compter de la signature des parties.")
    right.paragraphs[0].text = "Article 3 – Gratification"
    right.add_paragraph("Le stagiaire perçoit une gratification de 15 % du plafond horaire.")
    right.add_paragraph("Article 4 – Fin de stage")
    right.add_paragraph("Une attestation de stage est remise au stagiaire à la fin du stage.")
    fees = doc.add_table(rows=2, cols=2)
    for row, (a, b) in zip(fees.rows, [("Niveau", "Délai"), ("P1", "4 heures")], strict=True):
        row.cells[0].text, row.cells[1].text = a, b
    path = tmp_path / "convention.docx"
    doc.save(str(path))
    parsed, _profile, _hash = parse_file(path)
    numbers = [a.number for a in parsed.articles if a.number and a.number != PREAMBLE]
    assert numbers == ["1", "2", "3", "4"]
    last = next(a for a in parsed.articles if a.number == "4")
    assert "attestation de stage" in last.text and "Niveau | Délai" in last.text
