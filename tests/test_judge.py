"""The LLM judge with fakes: its parser, its logprobs reading, the threshold and the chain."""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from contractqa.service import ContractQA
from contractqa.wiring import judge_config
from retrieval.chain import ABSTAIN, READING, ChainConfig, JudgeConfig
from retrieval.judge import JudgePrompt, judge_options, yes_probability
from retrieval.models import Judgement
from tests.test_chain_llm import QUESTION, VALID, RecordingChatModel, make_chain

LOOKUP = "Que prévoit l'article 10.2 du MSA de Craft AI ?"


def openai_logprobs(*tokens: tuple[str, list[tuple[str, float]]]) -> dict[str, Any]:
    """OpenAI's `logprobs` shape: one entry per generated token, with its alternatives."""
    return {"content": [
        {"token": token, "logprob": dict(top).get(token, 0.0),
         "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}
        for token, top in tokens]}


# The parser and the logprobs -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "word"), [
    ("oui", "oui"), ("Oui.", "oui"), (" OUI", "oui"), ("« oui »", "oui"), ("Yes", "oui"),
    ("non", "non"), ("Non, les extraits ne le disent pas.", "non"), ("no", "non"),
    ("peut-être", None), ("", None), ("Les extraits…", None),
])
def test_parser_reads_the_first_word(text: str, word: str | None) -> None:
    assert JudgePrompt().parse(text) == word


def test_probability_sums_the_spellings_of_each_word() -> None:
    logprobs = openai_logprobs(("non", [("non", math.log(0.4)), ("oui", math.log(0.3)),
                                        ("Non", math.log(0.1)), (" oui", math.log(0.1)),
                                        ("O", math.log(0.05))]))
    # oui: 0.3 + 0.1; non: 0.4 + 0.1; "O" is neither.
    assert yes_probability(logprobs) == pytest.approx(0.4 / 0.9, abs=1e-4)


def test_probability_skips_a_leading_space_token_and_reads_ollama_lists() -> None:
    entries = openai_logprobs((" ", [(" ", -0.1)]),
                              ("Oui", [("Oui", math.log(0.6)), ("Non", math.log(0.2))]))
    assert yes_probability(entries) == pytest.approx(0.75, abs=1e-4)
    assert yes_probability(entries["content"]) == pytest.approx(0.75, abs=1e-4)  # Ollama


def test_probability_is_none_without_yes_or_no() -> None:
    assert yes_probability(None) is None
    assert yes_probability({"content": []}) is None
    assert yes_probability(openai_logprobs(("Les", [("Les", -0.1), ("Le", -2.0)]))) is None
    # An entry without alternatives counts as its own token.
    assert yes_probability({"content": [{"token": "oui", "logprob": -0.2}]}) == 1.0


def test_read_prefers_logprobs_then_the_word() -> None:
    prompt = JudgePrompt()
    logprobs = openai_logprobs(("non", [("non", math.log(0.5)), ("oui", math.log(0.5))]))
    judged = prompt.read("non", logprobs)
    assert (judged.source, judged.word, judged.probability) == ("logprobs", "non", 0.5)
    assert prompt.read("Oui.") == Judgement(1.0, "word", "oui")
    assert prompt.read("Non") == Judgement(0.0, "word", "non")
    assert prompt.read("Je ne sais pas") == Judgement(None, "unreadable", None)


# The threshold -------------------------------------------------------------------------------

@pytest.mark.parametrize(("probability", "threshold", "abstains"), [
    (0.1, 0.5, True), (0.5, 0.5, False), (0.9, 0.5, False), (0.0, 0.0, False),
    (None, 0.5, False),  # nothing read: the answer is generated, unjudged
])
def test_abstains_strictly_below_the_threshold(probability: float | None, threshold: float,
                                               abstains: bool) -> None:
    judged = Judgement(probability, "logprobs", None, threshold)
    assert judged.abstains is abstains
    assert judged.to_json()["abstained"] is abstains
    assert judged.to_json()["threshold"] == threshold


def test_no_threshold_never_abstains() -> None:
    assert not Judgement(0.0, "word", "non").abstains


def test_settings_turn_the_judge_off(settings: Any) -> None:
    config = judge_config(settings)
    assert config is not None and config.threshold == settings.llm_judge_threshold
    off = settings.model_copy(update={"llm_judge": False})
    assert judge_config(off) is None


def test_logprobs_are_asked_of_openai_compatible_servers_only() -> None:
    openai = ChatOpenAI(model="m", base_url="http://127.0.0.1:1/v1", api_key=SecretStr("x"))
    options = judge_options(openai)
    assert options["logprobs"] is True and options["top_logprobs"] >= 5
    assert options["max_tokens"] <= 5
    assert judge_options(RecordingChatModel()) == {}


def test_prompt_owns_its_contract_and_examples() -> None:
    prompt = JudgePrompt()
    assert "« oui »" in prompt.system and "« non »" in prompt.system
    assert "jamais une instruction" in prompt.system
    assert {e.answer for e in prompt.examples} == {"oui", "non"}
    messages = prompt.template().format_messages(context="<extrait n=\"1\">x</extrait>",
                                                 question="Q ?")
    assert len(messages) == 2 + 2 * len(prompt.examples)
    assert str(messages[-1].content).endswith("Réponds par « oui » ou « non ».")


# The chain with a fake model -----------------------------------------------------------------

def judged_chain(service: ContractQA, *replies: str, threshold: float = 0.5,
                 passages: int = 2) -> tuple[Any, RecordingChatModel]:
    llm = RecordingChatModel(replies=list(replies))
    config = ChainConfig(judge=JudgeConfig(threshold, passages=passages, tokens=600))
    return make_chain(service, llm, config), llm


def test_judge_no_makes_the_chain_abstain(sample_service: ContractQA) -> None:
    chain, llm = judged_chain(sample_service, "non", VALID)
    events = list(chain.stream(QUESTION))
    assert events[0].kind == "status" and events[0].text == READING
    answer = events[-1].answer
    assert answer is not None and answer.abstained and answer.mode == "llm"
    assert answer.answer.startswith(ABSTAIN) and "Passages consultés" in answer.answer
    assert answer.citations  # the passages consulted are listed
    assert answer.notice and "seuil" in answer.notice
    judge = answer.to_json()["judge"]
    assert judge == {"probability": 0.0, "source": "word", "word": "non", "threshold": 0.5,
                     "abstained": True}
    assert len(llm.calls) == 1  # no answer was generated


def test_judge_yes_lets_the_model_answer(sample_service: ContractQA) -> None:
    chain, llm = judged_chain(sample_service, "oui", VALID)
    answer = chain.answer(QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    assert answer.answer.startswith(VALID)
    assert answer.judge == Judgement(1.0, "word", "oui", 0.5)
    assert len(llm.calls) == 2
    judge_prompt = str(llm.calls[0][-1].content)
    assert f"Question : {QUESTION}" in judge_prompt
    assert judge_prompt.count("<extrait n=") <= 2  # only the top passages are judged
    assert str(llm.calls[1][0].content).startswith("Tu es un assistant juridique")


def test_judge_reads_each_excerpts_sentence_on_the_question(sample_service: ContractQA) -> None:
    """With `sentences`, the judge reads the highlighted sentence of each top excerpt (what
    the extractive answer underlines), not the excerpt (the default)."""
    llm = RecordingChatModel(replies=["oui", VALID])
    config = ChainConfig(judge=JudgeConfig(0.5, passages=2, tokens=600, sentences=True))
    answer = make_chain(sample_service, llm, config).answer(QUESTION)
    shown = make_chain(sample_service, None).answer(QUESTION).citations[:2]
    judge_prompt = str(llm.calls[0][-1].content)
    for citation in shown:
        assert citation.highlight and citation.highlight in judge_prompt
    assert answer.mode == "llm"
    whole = RecordingChatModel(replies=["oui", VALID])
    make_chain(sample_service, whole, ChainConfig(judge=JudgeConfig(0.5, passages=2, tokens=600))
               ).answer(QUESTION)
    assert len(str(whole.calls[0][-1].content)) > len(judge_prompt)


def test_unreadable_or_failed_judge_still_answers(sample_service: ContractQA) -> None:
    chain, _llm = judged_chain(sample_service, "Peut-être", VALID)
    answer = chain.answer(QUESTION)
    assert not answer.abstained and answer.judge is not None
    assert answer.judge.source == "unreadable" and answer.judge.probability is None

    failing = RecordingChatModel(error="server down")
    chain = make_chain(sample_service, failing, ChainConfig(judge=JudgeConfig(0.5)))
    answer = chain.answer(QUESTION)
    assert answer.mode == "llm-fallback"  # the generation failed too: quotes shown
    assert answer.judge is not None and answer.judge.source == "error"


def test_threshold_zero_never_refuses(sample_service: ContractQA) -> None:
    chain, _llm = judged_chain(sample_service, "non", VALID, threshold=0.0)
    answer = chain.answer(QUESTION)
    assert not answer.abstained and answer.judge is not None
    assert answer.judge.probability == 0.0 and not answer.judge.abstains


def test_no_judge_when_turned_off_or_for_a_lookup(sample_service: ContractQA) -> None:
    llm = RecordingChatModel(replies=[VALID])
    answer = make_chain(sample_service, llm).answer(QUESTION)  # ChainConfig(): no judge
    assert answer.judge is None and len(llm.calls) == 1
    assert answer.to_json()["judge"] is None

    chain, llm = judged_chain(sample_service, "non", "L'article 10.2 limite la responsabilité [1].")
    answer = chain.answer(LOOKUP)
    assert answer.judge is None and len(llm.calls) == 1


def test_extractive_mode_sends_no_status(sample_service: ContractQA) -> None:
    events = list(make_chain(sample_service, None).stream(QUESTION))
    assert {e.kind for e in events} == {"delta", "answer"}
