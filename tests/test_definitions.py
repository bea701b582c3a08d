"""Definition questions find the clause that defines the quoted term (drafting conventions)."""

from __future__ import annotations

import pytest

from ingest.models import Chunk
from retrieval.definitions import defined_term, find_definitions


def _chunk(n: int, text: str, heading: str | None = None, document: str = "doc") -> Chunk:
    return Chunk(f"{document}-{n}", document, "Contrat de test", None, str(n), heading, text,
                 f"Contrat de test — Article {n}", (1,), n * 1000, n * 1000 + len(text))


USES = _chunk(2, "Le Prestataire héberge les Données Hébergées dans des centres situés en France. "
                 "Les Données Hébergées sont sauvegardées chaque nuit.", "Hébergement")
LIST_ENTRY = _chunk(1, "Les termes suivants ont le sens indiqué ci-dessous.\n"
                       "• Données Hébergées : désigne les fichiers déposés par le Client.\n"
                       "• Portail (ou Espace Client) : désigne le site d'administration.",
                    "Définitions")
QUOTED = _chunk(3, "Le Client peut commander une prestation d'accompagnement (une « Mission ») "
                   "auprès du Prestataire.", "Accompagnement")
PHRASE = _chunk(4, "Sont considérées comme Informations Sensibles toutes les données de santé "
                   "transmises par le Client.", "Secret")
HEADED = _chunk(5, "À la fin du contrat, le Prestataire restitue les données au Client dans un "
                   "format ouvert.", "Réversibilité")


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("Que désigne le terme « Données Hébergées » ?", "Données Hébergées"),
        ("Qu'entend-on par « Mission » dans ce contrat ?", "Mission"),
        ("Que recouvre la notion de \"Portail\" ?", "Portail"),
        ("Quelle entité est visée par le terme « Autorité » ?", "Autorité"),
    ],
)
def test_defined_term_is_read_from_definition_questions(question: str, term: str) -> None:
    assert defined_term(question) == term


@pytest.mark.parametrize(
    "question",
    [
        "Que prévoit l'article 7 « Réversibilité » ?",  # a quoted heading, not a definition
        "Quelle est la durée du contrat ?",
    ],
)
def test_other_questions_have_no_defined_term(question: str) -> None:
    assert defined_term(question) is None


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Données Hébergées", LIST_ENTRY),  # a definition list entry, not the clause using it
        ("Portail", LIST_ENTRY),  # an entry with an alias in parentheses
        ("Mission", QUOTED),  # introduced in quotes
        ("Informations Sensibles", PHRASE),  # "Sont considérées comme …"
        ("Réversibilité", HEADED),  # an article headed by the term
    ],
)
def test_find_definitions_prefers_the_defining_clause(term: str, expected: Chunk) -> None:
    chunks = [USES, LIST_ENTRY, QUOTED, PHRASE, HEADED]
    assert find_definitions(term, chunks)[0] == expected


def test_a_term_only_used_is_not_a_definition() -> None:
    assert find_definitions("Données Hébergées", [USES, QUOTED]) == []
    assert find_definitions("Tarif Horaire", [USES, LIST_ENTRY]) == []
