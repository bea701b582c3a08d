"""Cleaning removes extraction noise and never changes the contract's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.cleaning import clean, normalise_characters
from ingest.loaders import load
from ingest.models import Line

ROOT = Path(__file__).resolve().parents[1]
CRAFT = ROOT / "data" / "contracts" / "000_863f8398c9eb4693.txt"
NUMSPOT = ROOT / "data" / "contracts" / "002_7a0edd1b49b950df.txt"


def make_lines(pages: list[list[str]]) -> list[Line]:
    out: list[Line] = []
    offset = 0
    for number, page in enumerate(pages, start=1):
        for text in page:
            out.append(Line(text, offset, number))
            offset += len(text) + 1
    return out


def texts(lines: list[Line]) -> list[str]:
    return [ln.text for ln in lines]


def is_word_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(word in it for word in small)


def test_repeated_headers_and_footers_removed() -> None:
    body = [
        ["1. Objet", "Le présent contrat a pour objet la fourniture du service."],
        ["2. Durée", "Le contrat est conclu pour un an."],
        ["3. Prix", "Le prix figure au bon de commande."],
        ["4. Résiliation", "Chaque partie peut résilier avec un préavis de trois mois."],
    ]
    pages = [
        ["ACME SAS – Conditions générales de vente", *lines, f"Page {n} / 4", "Confidentiel"]
        for n, lines in enumerate(body, start=1)
    ]
    cleaned = clean(make_lines(pages))
    assert texts(cleaned) == [line for page in body for line in page]
    assert [ln.page for ln in cleaned] == [1, 1, 2, 2, 3, 3, 4, 4]


def test_short_document_keeps_repeated_lines() -> None:
    """With fewer than three pages nothing is a running header: repeated words stay."""
    pages = [["Responsabilité", "Le Client est responsable."],
             ["Responsabilité", "Le Prestataire est responsable."]]
    assert texts(clean(make_lines(pages))) == [t for p in pages for t in p]


@pytest.mark.parametrize("number", ["12", "  7  ", "Page 3", "page 3 / 10", "3/10", "3 sur 10"])
def test_page_numbers_removed(number: str) -> None:
    lines = make_lines([["1. Objet", "Le contrat a un objet.", number, "La suite du texte."]])
    assert texts(clean(lines)) == ["1. Objet", "Le contrat a un objet.", "La suite du texte."]


def test_numbers_inside_sentences_kept() -> None:
    kept = ["Le délai est de 30 jours.", "2024", "Article 12", "1. Objet", "10 000 €"]
    assert texts(clean(make_lines([kept]))) == kept


def test_table_of_contents_removed() -> None:
    toc = [
        "Sommaire",
        "Préambule\t2",
        "ARTICLE 1. Définitions\t2",
        "ARTICLE 2. Durée ........................ 4",
        "",
        "ARTICLE 3. Prix     5",
        "ARTICLE 4. Responsabilité\t7",
    ]
    body = ["Préambule", "Les parties se sont rapprochées.", "ARTICLE 1. Définitions",
            "Les termes ont le sens suivant."]
    cleaned = texts(clean(make_lines([toc + body])))
    assert cleaned == ["Sommaire", *body]


def test_two_toc_like_lines_are_not_a_table_of_contents() -> None:
    lines = ["Montant minimum\t100", "Montant maximum\t500", "Le reste du texte."]
    assert texts(clean(make_lines([lines]))) == lines


def test_soft_hyphens_and_spaces_normalised() -> None:
    raw = "La respon\u00adsabilité du Prestataire\u00a0: 10\u202f000\u00a0€ au\u200b plus."
    assert normalise_characters(raw) == "La responsabilité du Prestataire : 10 000 € au plus."
    cleaned = clean(make_lines([["1. Objet", raw]]))
    assert texts(cleaned)[1] == "La responsabilité du Prestataire : 10 000 € au plus."


def test_offsets_are_kept() -> None:
    lines = make_lines([["Titre", "12", "Texte du contrat."]])
    cleaned = clean(lines)
    assert [(ln.text, ln.start) for ln in cleaned] == [("Titre", 0), ("Texte du contrat.", 9)]


def test_glued_title_split_keeps_offsets() -> None:
    line = "la présente clause restera en vigueur.  ACCORD DE TRAITEMENT DES DONNÉES"
    cleaned = clean([Line(line, 100, 1)])
    assert texts(cleaned) == ["la présente clause restera en vigueur.",
                              "ACCORD DE TRAITEMENT DES DONNÉES"]
    assert cleaned[1].start == 100 + line.index("ACCORD")


@pytest.mark.parametrize("path", [CRAFT, NUMSPOT], ids=["craft", "numspot"])
def test_real_contract_words_unchanged(path: Path) -> None:
    loaded = load(path)
    cleaned = clean(loaded.lines)
    source_words = normalise_characters(loaded.text).split()
    cleaned_words = " ".join(ln.text for ln in cleaned).split()
    assert is_word_subsequence(cleaned_words, source_words)
    assert len(cleaned_words) > 0.95 * len(source_words)
    for ln in cleaned:  # every kept line is where its offset says
        assert normalise_characters(loaded.text[ln.start: ln.start + len(ln.text)]) == ln.text


def test_numspot_table_of_contents_removed() -> None:
    cleaned = texts(clean(load(NUMSPOT).lines))
    assert not [t for t in cleaned if t.startswith("ARTICLE") and "\t" in t]
    assert "Préambule\t2" not in cleaned
    assert sum(1 for t in cleaned if t.startswith("ARTICLE 6.")) == 1
    assert sum(1 for t in cleaned if t.startswith("ARTICLE 18.")) == 1


def test_craft_page_numbers_and_title_blocks_removed() -> None:
    loaded = load(CRAFT)
    before = texts(loaded.lines)
    cleaned = texts(clean(loaded.lines))
    assert "16" in before and "16" not in cleaned
    assert not [t for t in cleaned if t.strip().isdigit()]
    assert len(cleaned) < len(before)
