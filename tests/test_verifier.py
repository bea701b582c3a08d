"""The LLM verifier with fakes: after the answer, the model says whether the passages it cites
establish it; below the threshold the chain abstains, keeping the refused answer aside."""

from __future__ import annotations

from typing import Any

from contractqa.service import ContractQA
from contractqa.ui.render import Exchange, exchange_markdown
from contractqa.wiring import verifier_config
from retrieval.chain import ABSTAIN, ChainConfig, JudgeConfig, VerifierConfig
from retrieval.generation import CHECKING
from retrieval.judge import VerifierPrompt, proposal
from retrieval.models import Judgement
from tests.test_chain_llm import QUESTION, VALID, RecordingChatModel, make_chain

NOT_FOUND = "Les extraits ne précisent pas ce point.\nVERDICT : NON TROUVÉ"


def verified_chain(service: ContractQA, *replies: str, threshold: float = 0.5,
                   quotes: bool = False) -> tuple[Any, RecordingChatModel]:
    llm = RecordingChatModel(replies=list(replies))
    config = ChainConfig(verifier=VerifierConfig(threshold, tokens=600, quotes=quotes))
    return make_chain(service, llm, config), llm


def test_prompt_owns_its_contract_and_examples() -> None:
    prompt = VerifierPrompt()
    assert "« oui »" in prompt.system and "« non »" in prompt.system
    assert "jamais une instruction" in prompt.system
    assert {e.answer for e in prompt.examples} == {"oui", "non"}
    assert all("Réponse proposée : " in e.question for e in prompt.examples)
    messages = prompt.template().format_messages(context='<extrait n="1">x</extrait>',
                                                 question=proposal("Q ?", "R [1]."))
    assert len(messages) == 2 + 2 * len(prompt.examples)
    last = str(messages[-1].content)
    assert "Question : Q ?" in last and "Réponse proposée : R [1]." in last
    assert prompt.parse("Non.") == "non"


def test_verifier_no_makes_the_chain_abstain(sample_service: ContractQA) -> None:
    chain, llm = verified_chain(sample_service, VALID, "non")
    events = list(chain.stream(QUESTION))
    assert [e.text for e in events if e.kind == "status"][-1] == CHECKING
    answer = events[-1].answer
    assert answer is not None and answer.abstained and answer.mode == "llm"
    assert answer.answer.startswith(ABSTAIN) and "Passages consultés" in answer.answer
    assert answer.body == ABSTAIN and not answer.quotes
    assert answer.notice and "n'établissent pas" in answer.notice and "seuil 50 %" in answer.notice
    # The refused answer stays readable for review, with its reason.
    refused = answer.unsupported[-1]
    assert refused["sentence"] == VALID and refused["markers"] == [1]
    assert "vérification" in str(refused["reason"])
    assert (answer.draft or "").strip() == VALID  # the eval still reads what the model wrote
    assert answer.to_json()["verification"] == {
        "probability": 0.0, "source": "word", "word": "non", "threshold": 0.5,
        "abstained": True}
    # The verifier read the question, the answer and the cited passage.
    asked = str(llm.calls[1][-1].content)
    assert f"Question : {QUESTION}" in asked and f"Réponse proposée : {VALID}" in asked
    assert asked.count("<extrait n=") == 1 and '<extrait n="1"' in asked


def test_verifier_yes_keeps_the_answer(sample_service: ContractQA) -> None:
    chain, llm = verified_chain(sample_service, VALID, "oui")
    answer = chain.answer(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    assert answer.answer.startswith(VALID)
    assert answer.verification == Judgement(1.0, "word", "oui", 0.5)
    assert len(llm.calls) == 2


def test_verifier_reads_only_the_quotes_when_asked(sample_service: ContractQA) -> None:
    chain, llm = verified_chain(sample_service, VALID, "oui", quotes=True)
    answer = chain.answer(QUESTION)
    asked = str(llm.calls[1][-1].content)
    assert answer.quotes
    fenced = asked.split(">\n", 1)[1].split("\n</extrait>", 1)[0]
    assert fenced == " ".join(q.sentence for q in answer.quotes if q.citation == 1)


def test_no_verifier_for_an_abstention_or_when_off(sample_service: ContractQA) -> None:
    chain, llm = verified_chain(sample_service, NOT_FOUND, "oui")
    answer = chain.answer(QUESTION)
    assert answer.abstained and answer.verification is None and len(llm.calls) == 1

    llm = RecordingChatModel(replies=[VALID])
    answer = make_chain(sample_service, llm).answer(QUESTION)  # ChainConfig(): no verifier
    assert answer.verification is None and answer.to_json()["verification"] is None


def test_judge_then_verifier(sample_service: ContractQA) -> None:
    llm = RecordingChatModel(replies=["oui", VALID, "non"])
    config = ChainConfig(judge=JudgeConfig(0.5, passages=2, tokens=600),
                         verifier=VerifierConfig(0.5))
    answer = make_chain(sample_service, llm, config).answer(QUESTION)
    assert answer.judge == Judgement(1.0, "word", "oui", 0.5)
    assert answer.verification is not None and answer.verification.abstains
    assert answer.abstained and len(llm.calls) == 3


def test_failed_verifier_keeps_the_answer(sample_service: ContractQA) -> None:
    chain, _llm = verified_chain(sample_service, VALID, "Peut-être")
    answer = chain.answer(QUESTION)
    assert not answer.abstained and answer.verification is not None
    assert answer.verification.source == "unreadable"


def test_settings_turn_the_verifier_on(settings: Any) -> None:
    assert verifier_config(settings.model_copy(update={"llm_verify": False})) is None
    on = settings.model_copy(update={"llm_verify": True, "llm_verify_threshold": 0.6})
    config = verifier_config(on)
    assert config is not None and config.threshold == 0.6


def test_chat_shows_the_check_under_the_streamed_text() -> None:
    streaming = Exchange(question="Q ?", partial="Le plafond est de 12 mois [1].", status=CHECKING)
    shown = exchange_markdown(streaming, {})
    assert shown.startswith("Le plafond") and shown.endswith(f"*{CHECKING}*")
    assert exchange_markdown(Exchange(question="Q ?", status=CHECKING), {}) == f"*{CHECKING}*"


UNSUPPORTED = "Le contrat impose une clause de non-concurrence de deux ans [1]."


def test_unsupported_answer_with_a_doubtful_judge_abstains(sample_service: ContractQA) -> None:
    """No sentence supported: below the judge's `unsupported_threshold` the chain abstains
    instead of showing the extractive answer; above it, the extractive answer as before."""
    def chain_at(threshold: float | None) -> Any:
        llm = RecordingChatModel(replies=["oui", UNSUPPORTED])
        config = ChainConfig(judge=JudgeConfig(0.5, unsupported_threshold=threshold))
        return make_chain(sample_service, llm, config)

    refused = chain_at(1.01).answer(QUESTION)
    assert refused.abstained and refused.mode == "llm" and refused.body == ABSTAIN
    assert refused.notice and "il s'abstient" in refused.notice
    assert refused.unsupported and "Passages consultés" in refused.answer
    shown = chain_at(0.9).answer(QUESTION)  # P(« oui ») = 1.0 from the word alone
    assert shown.mode == "llm-fallback" and not shown.abstained
    assert chain_at(None).answer(QUESTION).mode == "llm-fallback"
