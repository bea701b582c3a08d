"""Claim-level support, silence in any wording, the verdict line and sentence selection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contractqa.service import ContractQA
from retrieval.abstention import says_silent
from retrieval.models import Citation
from retrieval.prompts import AnswerPrompt, VerdictFilter, select_sentences
from retrieval.support import check_answer, figures, split_claims
from tests.test_chain_llm import QUESTION, VALID, fake, make_chain


def _citation(n: int, excerpt: str, article: str = "8") -> Citation:
    return Citation(n=n, document_id="d", document_title="Contrat", section=None,
                    article=article, heading=None, pages=[1], excerpt=excerpt, score=1.0)


SLA = _citation(1, "Le Prestataire s'engage sur une disponibilité mensuelle du service. Les "
                   "pénalités sont plafonnées à dix pour cent (10 %) de la redevance mensuelle.")
PAY = _citation(2, "Les factures sont payables à trente (30) jours à compter de leur date "
                   "d'émission.", article="9")


def test_figures_are_normalised() -> None:
    assert figures("1 000,50 € ; 99,99 % ; 1.000 ; [3] ; 030") == {"1000.5", "99.99", "1000",
                                                                    "30"}


def test_sentence_whose_figure_is_absent_from_its_excerpt_is_unsupported() -> None:
    (claim,) = check_answer("Une disponibilité mensuelle de 99,99 % est garantie [1].", [SLA])
    assert not claim.supported
    assert claim.reason and "99.99" in claim.reason


def test_supported_sentences_pass() -> None:
    claims = check_answer("Les pénalités sont plafonnées à 10 % de la redevance mensuelle [1]. "
                          "Les factures sont payables à 30 jours [2].", [SLA, PAY])
    assert [c.supported for c in claims] == [True, True]


def test_spelled_number_in_excerpt_supports_digits() -> None:
    excerpt = _citation(1, "Le préavis est de trois mois avant l'échéance du contrat.")
    (claim,) = check_answer("Le préavis est de 3 mois avant l'échéance [1].", [excerpt])
    assert claim.supported


def test_marker_pointing_nowhere_is_unsupported() -> None:
    (claim,) = check_answer("Les factures sont payables à 30 jours [7].", [SLA, PAY])
    assert not claim.supported and claim.reason and "[7]" in claim.reason


def test_sentence_about_something_else_is_unsupported() -> None:
    (claim,) = check_answer("La garantie d'éviction couvre tout trouble de jouissance [2].",
                            [PAY])
    assert not claim.supported and claim.reason and "mots absents" in claim.reason


def _lease(n: int, excerpt: str, article: str) -> Citation:
    return Citation(n=n, document_id="l", document_title="Contrat de location de matériel",
                    section=None, article=article, heading=None, pages=[1], excerpt=excerpt,
                    score=1.0)


RENT = _lease(1, "Le loyer mensuel est de quatre cents euros (400 €) hors taxes, payable le "
                 "cinq de chaque mois.", "2")
PRINTERS = _lease(2, "Le Loueur met à disposition du Locataire trois (3) imprimantes "
                     "professionnelles.", "1")


def test_sentence_copied_from_another_excerpt_cites_that_excerpt() -> None:
    (claim,) = check_answer("Les factures sont payables à trente (30) jours à compter de leur "
                            "date d'émission [1].", [SLA, PAY],
                            question="Quel est le délai de paiement des factures ?")
    assert claim.supported and claim.markers == [2] and claim.cited_by_model == [1]
    assert claim.sentence.endswith("d'émission [2].")


def test_figure_of_one_clause_given_for_another_topic_is_not_reattributed() -> None:
    # The real 0.5B's answer (2026-12-03) to a question the contract is silent on: the rent
    # clause's words and figure, given as the printers' warranty. The rent clause is not
    # about the warranty asked, so the sentence is not moved there.
    (claim,) = check_answer(
        "La garantie des imprimantes prévue par le contrat de location est de quatre cents "
        "euros (400 €) hors taxes, payable le cinq de chaque mois. [2].", [RENT, PRINTERS],
        question="Quelle est la durée de la garantie des imprimantes prévue par le contrat de "
                 "location ?")
    assert not claim.supported and claim.cited_by_model is None


def test_question_restated_is_not_reattributed() -> None:
    question = "Les factures sont-elles payables à trente jours ?"
    (claim,) = check_answer("Les factures sont payables à trente jours [1].", [SLA, PAY],
                            question=question)
    assert claim.markers == [1] and not claim.supported


def test_paragraph_closing_marker_covers_its_sentences() -> None:
    claims = split_claims("Les factures sont payables. Le délai est de 30 jours. [2]\nAutre [1].")
    assert [c.markers for c in claims] == [[2], [2], [1]]


@pytest.mark.parametrize("text", [
    "Les extraits fournis ne mentionnent pas de cyber-assurance.",
    "Le contrat ne précise pas la durée de la garantie.",
    "Il n'y a aucune clause à ce sujet dans les documents.",
    "Ce point n'est pas abordé.",
    "Les contrats sont muets sur ce point.",
    "The excerpts do not mention any insurance.",
])
def test_silence_in_other_words(text: str) -> None:
    assert says_silent(text)


@pytest.mark.parametrize("text", [
    "Les factures sont payables à 30 jours [1].",
    "Le prestataire n'est pas responsable des dommages indirects [2].",
    "Le client ne peut pas céder le contrat sans accord [1].",
])
def test_answers_are_not_silence(text: str) -> None:
    assert not says_silent(text)


def test_verdict_line_is_parsed_and_hidden_from_the_stream() -> None:
    prompt = AnswerPrompt()
    draft = prompt.parse("Le délai est de 30 jours [2].\n**Verdict : Non trouvé**")
    assert draft == type(draft)("Le délai est de 30 jours [2].", "not_found")
    assert prompt.parse("Texte [1].").verdict is None
    shown = VerdictFilter()
    out = "".join(shown.feed(d) for d in ["Le dél", "ai [1].\nVER", "DICT : RÉ", "PONDU"])
    assert out + shown.flush() == "Le délai [1].\n"


def test_long_excerpt_keeps_the_question_sentences_and_neighbours() -> None:
    filler = " ".join(f"Phrase de remplissage numéro {i} sans rapport avec le sujet." for i in
                      range(30))
    excerpt = (f"Article 8 Paiement. {filler} Les factures sont payables à trente jours. "
               f"La suite du texte. {filler}")
    kept = select_sentences(excerpt, "Quel est le délai de paiement des factures ?")
    assert "Les factures sont payables à trente jours." in kept
    assert "La suite du texte." in kept and "Article 8 Paiement." in kept
    assert "[…]" in kept and len(kept) < len(excerpt) / 3


# Through the chain, with fake models ---------------------------------------------------------

def test_unsupported_sentence_removed_and_listed(sample_service: ContractQA) -> None:
    invented = "Une disponibilité mensuelle de 99,99 % est garantie [1]."
    answer = make_chain(sample_service, fake(f"{VALID} {invented}\nVERDICT : RÉPONDU")
                        ).answer(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    assert invented not in answer.answer and "12 mois" in answer.answer
    assert [u["sentence"] for u in answer.unsupported] == [invented]
    assert answer.to_json()["unsupported"][0]["reason"].startswith("chiffre absent")
    assert answer.notice and "retirée" in answer.notice
    assert "VERDICT" not in answer.answer
    assert answer.prompt_tokens and answer.prompt_tokens > 100


def test_silence_in_own_words_is_an_abstention(sample_service: ContractQA) -> None:
    answer = make_chain(sample_service, fake(
        "Les extraits fournis ne mentionnent aucune assurance cyber.")).answer(QUESTION)
    assert answer.abstained and answer.mode == "llm"
    assert "Passages consultés" in answer.answer
    assert answer.notice is None


def test_not_found_verdict_is_an_abstention(sample_service: ContractQA) -> None:
    answer = make_chain(sample_service, fake("Je regarde les extraits.\nVERDICT : NON TROUVÉ")
                        ).answer(QUESTION)
    assert answer.abstained and answer.to_json()["abstained"]


def test_json_contract_through_the_chain(sample_service: ContractQA) -> None:
    from retrieval.chain import QAChain
    from retrieval.prompts import JsonAnswerPrompt
    from tests.test_chain_llm import make_chain as _make

    base = _make(sample_service, fake('{"reponse": "' + VALID + '", "trouve": true}'))
    chain = QAChain(base.search, base.config, base.llm, "fake-model", JsonAnswerPrompt())
    events = list(chain.stream(QUESTION))
    answer = events[-1].answer
    assert answer is not None and answer.mode == "llm" and answer.verdict == "answered"
    assert "12 mois" in answer.answer and "trouve" not in answer.answer
    assert not [e for e in events if e.kind == "delta"]  # raw JSON is never shown
    assert JsonAnswerPrompt().parse('{"reponse": "Non.", "trouve": false}').verdict == "not_found"
    assert JsonAnswerPrompt().parse("pas du JSON").verdict is None


def test_sentence_numbered_after_the_wrong_excerpt_cites_the_right_one(
        sample_service: ContractQA) -> None:
    misnumbered = VALID.replace("[1]", "[4]")
    answer = make_chain(sample_service, fake(f"{misnumbered}\nVERDICT : RÉPONDU")
                        ).answer(QUESTION)
    assert answer.mode == "llm" and not answer.unsupported
    assert answer.body == VALID
    assert answer.to_json()["reattributed"] == [
        {"sentence": VALID, "markers": [1], "cited_by_model": [4]}]


def test_the_contracts_title_supports_no_claim() -> None:
    # The real 0.5B's answer (2026-12-03) to a question the lease is silent on: it shares
    # "contrat", "location", "matériel" with every excerpt's title, and nothing else.
    (claim,) = check_answer("Le contrat de location de matériel prévoit une clause de "
                            "confidentialité [2].", [RENT, PRINTERS])
    assert not claim.supported and claim.reason and "mots absents" in claim.reason
    (restated,) = check_answer("Le contrat de location de matériel prévoit un loyer mensuel de "
                               "quatre cents euros [1].", [RENT, PRINTERS])
    assert restated.supported


def test_the_sentence_holding_a_claim_is_found_in_its_excerpt() -> None:
    """A paraphrase ("30 jours") is matched to the contract's own sentence ("trente (30)
    jours"), figures first; a claim sharing nothing with the excerpt gets no quote."""
    from retrieval.support import supporting_sentence

    lease = _citation(3, "Le loyer est payable d'avance. Les factures sont payables à trente "
                         "(30) jours à compter de leur date d'émission. Tout retard entraîne "
                         "des pénalités de retard calculées au taux légal.")
    assert supporting_sentence("Le client paie ses factures sous 30 jours [3].", lease) == (
        "Les factures sont payables à trente (30) jours à compter de leur date d'émission.")
    assert supporting_sentence("Le bailleur assure l'immeuble [3].", lease) is None


def test_a_generated_answer_shows_the_contracts_sentence_under_it(
        sample_service: ContractQA) -> None:
    """Each claim is followed, below the answer, by the cited excerpt's own sentence: a
    lawyer checks it in the contract's words, not the model's."""
    answer = make_chain(sample_service, fake(f"{VALID}\nVERDICT : RÉPONDU")).answer(QUESTION)
    assert answer.mode == "llm" and answer.quotes
    quote, *closest = answer.quotes
    assert quote.citation == 1
    assert quote.sentence in " ".join(answer.citations[0].excerpt.split())  # lines joined
    body, _, rest = answer.answer.partition("Passages cités (texte exact du contrat) :")
    assert body.strip() == VALID and f"« {quote.sentence} » [1]" in rest
    assert rest.index(quote.sentence) < rest.index("Sources :")
    # Then the cited excerpt's sentence closest to the question, if another: no other excerpt.
    assert [(q.citation, q.sentence) for q in closest] in (
        [], [(1, answer.citations[0].highlight.strip())])


def test_the_cited_clauses_sentence_on_the_question_is_quoted_too() -> None:
    """The model answers beside the point of the clause it cites: under its sentence, the
    clause's own sentence on the question (its highlight); an uncited excerpt is never quoted."""
    from retrieval.generation import supporting_quotes
    from retrieval.support import Claim

    clause = replace(_citation(1, "Le Client peut résilier avec un préavis de six (6) mois. "
                                  "Une indemnité de trois (3) mois de redevance est due."),
                     highlight="Une indemnité de trois (3) mois de redevance est due.")
    other = replace(_citation(2, "Les factures sont payables à 30 jours."),
                    highlight="Les factures sont payables à 30 jours.")
    quotes = supporting_quotes([Claim("Le Client peut résilier avec six mois de préavis [1].",
                                      [1])], [clause, other])
    assert [(q.citation, q.sentence) for q in quotes] == [
        (1, "Le Client peut résilier avec un préavis de six (6) mois."),
        (1, "Une indemnité de trois (3) mois de redevance est due.")]


def test_example_sentences_copied_into_an_answer_are_removed() -> None:
    """Each fact of the prompt's examples is a figure: a sentence the model copies from an
    example into a real answer lacks it in the real excerpts (as the 1.5B did, 2026-12-04)."""
    prompt = AnswerPrompt()
    real = Citation(n=2, document_id="d", document_title="CGV", section=None, article="9",
                    heading="Frais", pages=[1], score=1.0,
                    excerpt="Les frais de déplacement du formateur sont à la charge du Client.")
    for example in prompt.examples:
        draft = prompt.parse(example.answer)
        claims = check_answer(draft.text, [real])
        if draft.verdict == "answered":
            assert claims and all(not c.supported for c in claims)
            assert all("chiffre absent" in (c.reason or "") for c in claims)


def test_a_rate_needs_its_unit_in_the_excerpt() -> None:
    excerpt = _citation(1, "La résiliation est effective 10 (dix) jours calendaires après l'envoi.")
    (claim,) = check_answer("Le taux d'intérêt de retard est de 10 % [1].", [excerpt])
    assert not claim.supported and claim.reason == "chiffre absent de l'extrait cité : 10 %"
    rate = _citation(1, "Les pénalités sont égales à dix pour cent (10 %) du montant mensuel.")
    (claim,) = check_answer("Les pénalités sont de 10 % du montant mensuel [1].", [rate])
    assert claim.supported
    fee = _citation(1, "une indemnité forfaitaire de quarante euros pour frais de recouvrement")
    (claim,) = check_answer("L'indemnité forfaitaire de recouvrement est de 40 € [1].", [fee])
    assert claim.supported
    (claim,) = check_answer("L'indemnité forfaitaire de recouvrement est de 40 % [1].", [fee])
    assert not claim.supported
