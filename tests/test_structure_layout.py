"""Structure details met in laid-out contracts (issue 15): dash variants, wrapped headings,
titles that are never a table-of-contents heading or a footer."""

from __future__ import annotations

import pytest

from ingest.models import Line
from ingest.structure import PREAMBLE, StructureParser


def parse(texts: list[str]) -> list[tuple[str | None, str | None]]:
    lines, offset = [], 0
    for text in texts:
        lines.append(Line(text, offset, 1))
        offset += len(text) + 1
    doc = StructureParser().parse("doc", lines)
    return [(a.number, a.heading) for a in doc.articles if a.number != PREAMBLE]


def title_of(texts: list[str]) -> str:
    lines = [Line(t, i * 100, 1) for i, t in enumerate(texts)]
    return StructureParser().parse("doc", lines).title


@pytest.mark.parametrize("dash", ["3.1 –Durée du contrat", "3.1- Durée du contrat",
                                  "3.1 - Durée du contrat", "3.1– Durée du contrat"])
def test_dash_variants_after_the_number(dash: str) -> None:
    texts = ["1. Objet", "Le contrat a un objet.", "2. Exécution", "Le contrat s'exécute.",
             dash.replace("3.", "2.", 1), "Le contrat dure un an.", "2.2 Prix",
             "Le prix est ferme."]
    assert parse(texts) == [("1", "Objet"), ("2", "Exécution"), ("2.1", "Durée du contrat"),
                            ("2.2", "Prix")]


def test_a_range_is_not_a_dash_heading() -> None:
    texts = ["1. Objet", "Le contrat a un objet.", "2. Délais", "Les délais sont de",
             "3-4 jours ouvrés.", "3. Prix", "Le prix est ferme."]
    assert [n for n, _ in parse(texts)] == ["1", "2", "3"]


def test_keyword_heading_wrapped_onto_the_next_line_stays_whole() -> None:
    texts = ["ARTICLE 1 – Objet", "Le contrat a un objet.",
             "ARTICLE 2 – Obligations du transporteur relatives à la sécurité des",
             "marchandises transportées", "Le transporteur assure les marchandises.",
             "ARTICLE 3 – Prix", "Le prix est ferme."]
    assert parse(texts)[1] == ("2", "Obligations du transporteur relatives à la sécurité des "
                                    "marchandises transportées")


def test_a_body_sentence_after_a_heading_is_not_part_of_it() -> None:
    texts = ["ARTICLE 1 – Objet", "le contrat a pour objet la maintenance.",
             "ARTICLE 2 – Prix", "Le prix est ferme."]
    assert parse(texts) == [("1", "Objet"), ("2", "Prix")]


@pytest.mark.parametrize("noise", ["SOMMAIRE", "Table des matières",
                                   "Cahier des Clauses Administratives Particulières "
                                   "Page 1 sur 38"])
def test_title_is_never_a_contents_heading_or_a_footer(noise: str) -> None:
    texts = [noise, "MARCHÉ DE MAINTENANCE DES ASCENSEURS", "ARTICLE 1 – Objet", "Texte.",
             "ARTICLE 2 – Prix", "Texte."]
    assert title_of(texts) == "MARCHÉ DE MAINTENANCE DES ASCENSEURS"


@pytest.mark.parametrize(
    ("texts", "title"),
    [
        # A title wrapped over two lines in capitals stays whole.
        (["CAHIER DES CLAUSES", "PARTICULIÈRES (CCP)", "Marché de nettoyage des locaux",
          "Article 1 – Objet", "Le marché porte sur le nettoyage."],
         "CAHIER DES CLAUSES PARTICULIÈRES (CCP)"),
        # A public body's name above the title, cut after "du", is not the title.
        (["Direction régionale du", "numérique", "Conditions générales d'utilisation",
          "du portail Sirocco", "Article 1 – Objet", "Les présentes conditions…"],
         "Conditions générales d'utilisation du portail Sirocco"),
        # A sentence or a parties' block is never the title; a running header neither.
        (["Ci-après dénommée « la Société ».", "ENTRE LES SOUSSIGNÉS",
          "IL EST CONVENU CE QUI SUIT", "Article 1 – Objet", "Le contrat a un objet."], ""),
        (["CONFIDENTIEL Mars 2019 Page 1 sur 12", "CONDITIONS GÉNÉRALES DE VENTE",
          "Article 1 – Objet", "Les présentes conditions…"], "CONDITIONS GÉNÉRALES DE VENTE"),
    ],
)
def test_the_title_is_the_first_title_like_block(texts: list[str], title: str) -> None:
    assert title_of(texts) == title


def test_bis_and_ter_articles_are_their_own() -> None:
    texts = ["Article 4 – Prix", "Le prix est ferme.", "Art. 4Bis - Modalités de paiement",
             "Le paiement se fait par virement.", "Article 5 ter – Stages à l'étranger",
             "Le stagiaire reste couvert.", "Article 6 – Fin", "Le contrat prend fin."]
    assert parse(texts) == [("4", "Prix"), ("4bis", "Modalités de paiement"),
                            ("5ter", "Stages à l'étranger"), ("6", "Fin")]


def test_a_numbered_heading_wrapped_onto_a_short_lowercase_line_stays_whole() -> None:
    texts = ["1. Objet", "Les présentes conditions régissent le service.",
             "2. Exploitant de la Plateforme, de l'Application et", "des Services",
             "La Plateforme est exploitée par la société.", "3. Durée", "Un an."]
    assert parse(texts) == [("1", "Objet"),
                            ("2", "Exploitant de la Plateforme, de l'Application et des Services"),
                            ("3", "Durée")]


def test_a_heading_followed_by_a_lettered_item_opens_its_article() -> None:
    texts = ["1. Durée", "Le contrat dure un an.", "2. Obligations du CLIENT",
             "a. Le CLIENT et son compte :", "Le CLIENT s'engage à payer.", "3. Loi applicable",
             "Le droit français."]
    assert [n for n, _ in parse(texts)] == ["1", "2", "3"]


def test_unnumbered_sections_are_found_by_the_table_of_contents() -> None:
    """A platform's CGU whose sections carry headings but no numbers: the entries of its table
    of contents (removed by cleaning) mark them, and each heading labels its section."""
    texts = ["Conditions générales d'utilisation", "Vocabulaire",
             "Service : la plateforme en ligne.", "Mentions légales",
             "Le site est édité par l'Agence.", "Sécurité",
             "Les comptes sont protégés par un mot de passe.", "Dans le texte, Sécurité renforcée."]
    lines = [Line(t, i * 100, 1) for i, t in enumerate(texts)]
    contents = ["Vocabulaire ........ 2", "Mentions légales ..... 3", "Sécurité\t4"]
    doc = StructureParser().parse("cgu", lines, contents)
    assert not doc.fallback
    assert [(a.number, a.heading) for a in doc.articles if a.number != PREAMBLE] == [
        ("Vocabulaire", "Vocabulaire"), ("Mentions légales", "Mentions légales"),
        ("Sécurité", "Sécurité")]
    assert "Sécurité renforcée" in doc.articles[-1].text
    assert StructureParser().parse("cgu", lines).fallback  # without contents: paragraphs
