"""Laid-out PDFs (issue 15): every body word kept, headers, footers and contents removed,
articles found, unreadable fonts refused with a French message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest import loaders
from ingest.cleaning import CONTENTS, HEADER, PAGE_NUMBER
from ingest.loaders import load
from ingest.models import IngestError, ParsedDocument
from ingest.pipeline import parse_file
from tests.helpers_pdf import (
    DOTTED_FOOTER,
    TITLE,
    body_words,
    contract_pdf,
    dotted_articles,
    dotted_contents_pdf,
    sample_articles,
    without_unicode_maps,
)
from tests.helpers_pdf import (
    HEADER as RUNNING_HEADER,
)

ARTICLES = sample_articles()


def kept_words(parsed: ParsedDocument) -> list[str]:
    return " ".join(a.text for a in parsed.articles).split()


def in_order(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(word in it for word in small)


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("layout")
    files = {"justified": out / "justified.pdf", "ligatures": out / "ligatures.pdf",
             "columns": out / "columns.pdf"}
    contract_pdf(files["justified"], ARTICLES)
    contract_pdf(files["ligatures"], ARTICLES, ligatures=True)
    contract_pdf(files["columns"], ARTICLES, columns=2, toc=False)
    return files


@pytest.mark.parametrize("name", ["justified", "ligatures", "columns"])
def test_every_body_word_kept_in_order(pdfs: dict[str, Path], name: str) -> None:
    parsed = parse_file(pdfs[name])[0]
    assert in_order(body_words(ARTICLES), kept_words(parsed))
    assert parsed.words.unexplained == 0


@pytest.mark.parametrize("name", ["justified", "ligatures", "columns"])
def test_outline_is_the_articles(pdfs: dict[str, Path], name: str) -> None:
    parsed = parse_file(pdfs[name])[0]
    numbered = [a for a in parsed.articles if a.number and a.number != "Préambule"]
    assert [a.number for a in numbered] == [a.number for a in ARTICLES]
    assert [a.heading for a in numbered if a.number != "4"] == [
        a.heading for a in ARTICLES if a.number != "4"
    ]
    assert numbered[3].heading is not None
    if name == "columns":  # wrapped over three narrow lines: only the first continuation joins
        assert numbered[3].heading.startswith("Obligations du transporteur relatives")
    else:  # a heading that wraps onto the next line stays whole
        assert numbered[3].heading == ARTICLES[3].heading
    assert parsed.title == TITLE


def test_header_footer_and_contents_removed_and_reported(pdfs: dict[str, Path]) -> None:
    parsed = parse_file(pdfs["justified"])[0]
    text = "\n".join(a.text for a in parsed.articles)
    assert RUNNING_HEADER not in text
    assert not re.search(r"Page \d+ / \d+", text)
    reasons = {r.reason for r in parsed.words.removed}
    assert reasons == {HEADER, PAGE_NUMBER, CONTENTS}
    pages = len({ln.page for ln in load(pdfs["justified"]).lines})
    assert sum(r.reason == PAGE_NUMBER for r in parsed.words.removed) == pages
    assert sum(r.reason == CONTENTS for r in parsed.words.removed) == len(ARTICLES)


def test_ligatures_expanded_and_nothing_else_changed(pdfs: dict[str, Path]) -> None:
    text = load(pdfs["ligatures"]).text
    assert "\ufb01" not in text and "\ufb02" not in text
    assert "confiées" in text.lower() and "difficulté" in text
    assert "–" in text  # NFKC only on the ligatures: the en dash is not turned into "-"


def test_pdf_without_unicode_maps_is_refused_in_french(pdfs: dict[str, Path],
                                                        tmp_path: Path) -> None:
    broken = tmp_path / "bail.pdf"
    without_unicode_maps(pdfs["justified"], broken)
    with pytest.raises(IngestError) as error:
        load(broken)
    message = str(error.value)
    assert str(broken) in message and "illisible" in message and "OCR" in message


def test_unreadable_text_falls_back_to_the_other_extractor(
    pdfs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the first extractor returns NUL bytes for figures, the next one is used."""
    real = loaders._pdfium_pages

    def digits_lost(path: Path) -> list[str]:
        return [re.sub(r"\d", "\x00", page) for page in real(path)]

    monkeypatch.setattr(loaders, "_pdfium_pages", digits_lost)
    text = load(pdfs["justified"]).text
    assert "\x00" not in text and "1218" in text


def test_page_cut_one_word_per_line_is_joined() -> None:
    words = "Si , suite à un cas de force majeure au sens de l'article 1218 du code civil".split()
    page = "\n".join(["ARTICLE 9 – Force majeure", *words * 2, "Fin de l'article."])
    fixed = loaders._fix_pdf_text(page)
    assert fixed.split() == page.split()
    assert max(len(line.split()) for line in fixed.split("\n")) > 10


@pytest.fixture(scope="module")
def dotted_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dotted") / "cgu.pdf"
    dotted_contents_pdf(path, dotted_articles())
    return path


def test_dotted_contents_over_two_pages_with_a_numbered_footer_removed(dotted_pdf: Path) -> None:
    """A table of contents cut by its page's footer ("CGU ….odt 2", itself ending with a
    number) and with a wrapped entry goes whole; no body word is lost."""
    articles = dotted_articles()
    parsed = parse_file(dotted_pdf)[0]
    kept = "\n".join(a.text for a in parsed.articles)
    assert "....." not in kept and DOTTED_FOOTER not in kept
    contents = [r for r in parsed.words.removed if r.reason == CONTENTS]
    assert len(contents) == len(articles) + 1  # the wrapped entry is two lines
    assert all(r.reason == HEADER for r in parsed.words.removed if DOTTED_FOOTER in r.text)
    body = [w for a in articles
            for w in [f"{a.number}.", *a.heading.split(), *" ".join(a.paragraphs).split()]]
    assert in_order(body, kept_words(parsed))
    numbered = [a for a in parsed.articles if a.number and a.number != "Préambule"]
    assert [(a.number, a.heading) for a in numbered] == [(a.number, a.heading) for a in articles]
    assert parsed.words.unexplained == 0
