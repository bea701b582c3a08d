"""The outline eval's independent words (issue 15): page furniture and tables of contents are
told apart from the file itself, every body word stays in the reference."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from eval.independent import docx_text, independent_words
from french.normalize import folded_words
from tests.helpers_pdf import (
    DOTTED_FOOTER,
    TITLE,
    contract_pdf,
    dotted_articles,
    dotted_contents_pdf,
    sample_articles,
)


def test_dotted_contents_and_numbered_footer_left_out(tmp_path: Path) -> None:
    articles = dotted_articles()
    path = tmp_path / "cgu.pdf"
    dotted_contents_pdf(path, articles)
    words, excluded = independent_words(path)
    furniture = [e.row.text for e in excluded if e.reason == "furniture"]
    contents = [e.row.text for e in excluded if e.reason == "contents"]
    assert furniture and all(text.startswith(DOTTED_FOOTER) for text in furniture)
    # Every entry, the wrapped one's first line (found by its link) included.
    assert len(contents) == len(articles) + 1
    assert not any("....." in word for word in words)
    body = [f"{a.number}. {a.heading} {' '.join(a.paragraphs)}" for a in articles]
    titles = Counter(folded_words(f"Table des matières {TITLE}"))
    assert Counter(folded_words(" ".join(words))) - titles == Counter(folded_words(" ".join(body)))


def test_running_header_and_folio_left_out_body_kept(tmp_path: Path) -> None:
    articles = sample_articles()
    path = tmp_path / "contrat.pdf"
    contract_pdf(path, articles, toc=False)
    words, excluded = independent_words(path)
    assert {e.reason for e in excluded} == {"furniture"}
    assert all(e.row.text.startswith(("Page", "Convention de partenariat")) for e in excluded)
    text = " ".join(words)
    for article in articles:
        for paragraph in article.paragraphs:
            body = paragraph.upper() if article.capitals else paragraph
            assert " ".join(body.split()) in text


def test_docx_merged_cell_read_once(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("Article 1 – Durée du stage")
    table = doc.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Durée totale du stage : 3 mois"
    table.cell(1, 0).text = "du"
    table.cell(1, 1).text = "au"
    path = tmp_path / "convention.docx"
    doc.save(str(path))
    assert docx_text(path).split("\n").count("Durée totale du stage : 3 mois") == 1
