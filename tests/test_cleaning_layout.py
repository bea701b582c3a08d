"""Cleaning removes only layout (issue 15): running headers and footers, folios, contents."""

from __future__ import annotations

from ingest.cleaning import (
    CONTENTS,
    HEADER,
    PAGE_NUMBER,
    check_words,
    clean,
    clean_with_report,
)
from ingest.models import Line
from tests.test_cleaning import make_lines

FOOTER = "Cahier des Clauses Administratives Particulières – Marché 2024-017"


SENTENCES = [
    "Le titulaire exécute les prestations dans les délais.",
    "LE TITULAIRE RENONCE À TOUT RECOURS CONTRE L'ACHETEUR POUR CE MOTIF.",
    "Les parties en conviennent.",
    "Le prix est ferme et définitif pendant toute la durée du marché.",
    "L'acheteur notifie sa décision par lettre recommandée.",
    "Les pénalités courent de plein droit sans mise en demeure.",
    "La présente clause survit à la fin du contrat.",
]


def body_pages(count: int) -> list[list[str]]:
    """Pages of body text, each with an article heading and sentences that vary by page."""
    return [
        [f"ARTICLE {n} – Clause {n}", *(SENTENCES[(n + k) % len(SENTENCES)] for k in range(4))]
        for n in range(1, count + 1)
    ]


def texts(lines: list[Line]) -> list[str]:
    return [ln.text for ln in lines]


def test_footer_with_page_number_inside_is_a_running_footer() -> None:
    """"… Page 6 sur 13" changes with the page, yet it is the same footer (digits normalised)."""
    body = body_pages(13)
    pages = [[*page, f"{FOOTER} Page {n} sur 13"] for n, page in enumerate(body, start=1)]
    result = clean_with_report(make_lines(pages))
    assert texts(result.lines) == [t for page in body for t in page]
    assert {r.reason for r in result.removed} == {HEADER}
    assert len(result.removed) == 13


def test_capitals_paragraphs_are_kept() -> None:
    """A clause written in capitals (liability clauses often are) is contract text."""
    caps = ["9.1 LIMITATION DE RESPONSABILITÉ", "LA RESPONSABILITÉ DE L'ÉDITEUR EST LIMITÉE",
            "AUX DOMMAGES DIRECTS ET PRÉVISIBLES SUBIS PAR L'UTILISATEUR,",
            "DANS LA LIMITE DES SOMMES VERSÉES AU COURS DES DOUZE DERNIERS MOIS.",
            "EN AUCUN CAS L'ÉDITEUR NE RÉPOND DES DOMMAGES INDIRECTS."]
    lines = ["8. Durée", "Le contrat est conclu pour un an.", *caps, "10. Droit applicable"]
    assert texts(clean(make_lines([lines]))) == lines


def test_title_block_repeated_as_page_header_is_removed() -> None:
    """A block of sub-document titles printed at the top of every page is a running header."""
    header = ['MASTER SERVICES AGREEMENT ("MSA")', 'CONDITIONS DE SERVICE ("CDS")',
              'ACCORD DE TRAITEMENT DES DONNÉES ("DPA")', "ANNEXES", "Page 1"]
    body = body_pages(5)
    pages = [[*header[:-1], f"Page {n}", *page] for n, page in enumerate(body, start=1)]
    result = clean_with_report(make_lines(pages))
    assert texts(result.lines) == [t for page in body for t in page]
    assert sum(r.reason == PAGE_NUMBER for r in result.removed) == 5


def test_pages_opening_with_an_article_are_not_a_running_header() -> None:
    """"ARTICLE 3" at the top of every page is a heading, not a header (digits count there)."""
    pages = [[f"ARTICLE {n}", "Le prestataire livre le logiciel."] for n in range(1, 7)]
    kept = texts(clean(make_lines(pages)))
    assert [t for t in kept if t.startswith("ARTICLE")] == [f"ARTICLE {n}" for n in range(1, 7)]


def test_lone_numbers_in_the_body_of_a_paged_document_are_kept() -> None:
    """In a paged document only the page bands hold folios; "30" inside a page is a figure."""
    body = [[*page[:3], "Le délai est de", "30", "jours calendaires.", *page[3:]]
            for page in body_pages(4)]
    pages = [[*page, str(n)] for n, page in enumerate(body, start=1)]
    assert texts(clean(make_lines(pages))) == [t for page in body for t in page]


def test_table_of_contents_with_page_numbers_glued_to_the_heading() -> None:
    toc = ["SOMMAIRE", "Article 1 Objet3", "Article 2 Durée du marché3", "Article 3 Prix4",
           "Article 4 Résiliation12"]
    body = ["Article 1 Objet", "Le marché a pour objet la maintenance.",
            "Article 2 Durée du marché", "Le marché est conclu pour 12 mois.",
            "Article 3 Prix", "Le prix est ferme.",
            "Article 4 Résiliation", "L'acheteur peut résilier."]
    result = clean_with_report(make_lines([toc + body]))
    assert texts(result.lines) == ["SOMMAIRE", *body]
    assert {r.reason for r in result.removed} == {CONTENTS}


def test_table_of_contents_without_page_numbers() -> None:
    """Entries under "SOMMAIRE" that come back later as the headings are a table of contents."""
    toc = ["SOMMAIRE", "ARTICLE 1 - OBJET", "ARTICLE 2 - DURÉE", "ARTICLE 3 - PRIX", ""]
    body = ["ARTICLE 1 - OBJET", "Le contrat a un objet.", "ARTICLE 2 - DURÉE", "Un an.",
            "ARTICLE 3 - PRIX", "Le prix est ferme."]
    assert texts(clean(make_lines([toc + body]))) == ["SOMMAIRE", "", *body]


def test_list_under_a_sommaire_that_is_not_repeated_is_kept() -> None:
    lines = ["Sommaire", "1. Le prestataire fournit le service.", "2. Le client paie.",
             "3. Les parties coopèrent.", "Fin."]
    assert texts(clean(make_lines([lines]))) == lines


def test_word_check_accounts_for_every_removed_word() -> None:
    body = body_pages(6)
    pages = [[f"ACME – CGV {n}/6", *page, f"Page {n} / 6"] for n, page in enumerate(body, 1)]
    lines = make_lines(pages)
    result = clean_with_report(lines)
    check = check_words(lines, result)
    assert check.unexplained == 0
    assert check.kept == sum(len(t.split()) for page in body for t in page)
    assert check.extracted == check.kept + sum(len(r.text.split()) for r in check.removed)
    assert 0.8 < check.kept_share < 1.0


def test_a_contents_entry_whose_bookmark_word_lost_is_removed_with_the_others() -> None:
    """Word prints "Erreur ! Signet non défini." where an entry's page number should be."""
    toc = ["Sommaire", "Objet ........................ 2", "Durée ........................ 3",
           "Prix ......................... 3",
           "Contacts ..................... Erreur ! Signet non défini."]
    body = ["Objet", "Le contrat a un objet.", "Durée", "Un an.", "Prix", "Le prix est ferme.",
            "Contacts", "Écrire au support."]
    result = clean_with_report(make_lines([toc + body]))
    assert texts(result.lines) == ["Sommaire", *body]
    assert {r.reason for r in result.removed} == {CONTENTS}
