"""Expected answer types: durations and amounts asked for, and clauses that hold them."""

from __future__ import annotations

import pytest

from retrieval.answer_type import ExpectedAnswer
from retrieval.extractive import best_sentences
from retrieval.models import Citation


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Combien de temps les données sont-elles conservées ?", {"duration"}),
        ("Dans quel délai le client doit-il être prévenu d'une violation ?", {"duration"}),
        ("Jusqu'à quand peut-on s'opposer au renouvellement ?", {"duration"}),
        ("Jusqu'à quel montant le prestataire est-il responsable ?", {"amount"}),
        ("Combien coûte l'annulation d'une formation ?", {"amount"}),
        ("Dans quel délai réclamer les pénalités, et quel est leur plafond ?",
         {"duration", "amount"}),
        ("Quel est le délai de paiement des factures ?", {"duration"}),
        ("Quel est le préavis de résiliation ?", {"duration"}),
        ("Au bout de combien de jours la force majeure permet-elle de résilier ?", {"duration"}),
        ("Quel est le prix d'une journée d'intervention ?", {"amount"}),
        ("À combien s'élève la redevance annuelle ?", {"amount"}),
        ("Qui est propriétaire des développements spécifiques ?", set()),
        ("Quel est le taux de disponibilité garanti ?", set()),
    ],
)
def test_expected_types(question: str, kinds: set[str]) -> None:
    assert ExpectedAnswer.of(question).kinds == kinds


def test_a_clause_answers_a_duration_question_only_with_a_duration_on_topic() -> None:
    expected = ExpectedAnswer.of(
        "Combien de temps les informations confidentielles restent-elles protégées ?")
    on_topic = ("Les informations confidentielles restent protégées pendant cinq (5) ans "
                "après la fin du contrat.")
    no_value = "Chaque partie protège les informations confidentielles de l'autre partie."
    off_topic = "Les factures sont payables à trente (30) jours date de facture par virement."
    spelled = ("Les informations confidentielles sont protégées 90 (quatre-vingt-dix) jours "
               "après la fin du contrat.")
    assert expected.held_by(on_topic)
    assert expected.held_by(spelled)
    assert not expected.held_by(no_value)
    assert not expected.held_by(off_topic)


def test_a_clause_answers_an_amount_question_with_a_sum_or_a_rate() -> None:
    expected = ExpectedAnswer.of(
        "Jusqu'à quel montant la responsabilité du prestataire est-elle limitée ?")
    assert expected.held_by("La responsabilité du Prestataire est limitée à 50 000 euros par an.")
    assert expected.held_by("La responsabilité du Prestataire est limitée au montant des sommes "
                            "payées au cours des douze derniers mois.")
    assert not expected.held_by("La responsabilité du Prestataire est exclue en cas de force "
                                "majeure.")


def _citation(n: int, excerpt: str) -> Citation:
    return Citation(n=n, document_id="doc", document_title="Contrat", section=None,
                    article=str(n), heading=None, pages=[1], excerpt=excerpt, score=1.0)


def test_the_quoted_sentence_holds_the_kind_of_value_asked() -> None:
    question = "Combien de temps le prestataire conserve-t-il les journaux d'accès aux données ?"
    wordy = ("Le prestataire conserve les journaux d'accès aux données et les protège contre "
             "toute modification non autorisée.")
    valued = "Le prestataire conserve ces journaux d'accès pendant douze (12) mois."
    citations = [_citation(1, f"{wordy} {valued}")]
    idf: dict[str, float] = {}
    plain = best_sentences(question, citations, idf, limit=1)
    typed = best_sentences(question, citations, idf, limit=1,
                           holds_value=ExpectedAnswer.of(question).value_in)
    assert [e.sentence for e in plain] == [wordy]
    assert [e.sentence for e in typed] == [valued]


def test_two_sentences_of_one_article_can_answer_a_two_part_question() -> None:
    question = "Le contrat se renouvelle-t-il tacitement, et avec quel préavis peut-on résilier ?"
    first = "Le contrat se renouvelle tacitement pour des périodes successives d'un an."
    second = "Chaque partie peut résilier le contrat avec un préavis de trois (3) mois."
    quoted = best_sentences(question, [_citation(1, f"{first} {second}")], {})
    assert {e.sentence for e in quoted} == {first, second}
    assert all(e.citation == 1 for e in quoted)
