"""The replay of a recorded LLM run (bench.llm_rescore) over a real index: the draft goes
through today's checks, the judge's probability through the threshold."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from bench.llm_rescore import replayed
from contractqa.service import ContractQA
from eval.metrics import GoldQuestion
from tests.test_chain_llm import QUESTION, VALID

Q = cast(GoldQuestion, SimpleNamespace(question=QUESTION))


def _run(**fields: Any) -> dict[str, Any]:
    return {"mode": "llm", "draft": f"{VALID}\nVERDICT : RÉPONDU", "judge_probability": 0.9,
            **fields}


def test_a_recorded_draft_is_settled_by_todays_chain(sample_service: ContractQA) -> None:
    chain = sample_service.chain
    answer = replayed(chain, Q, _run(), 3000, threshold=0.5, excerpts=5)
    assert answer.mode == "llm" and answer.answer.startswith(VALID)
    # Below the threshold, the judge's abstention, whatever the draft.
    judged = replayed(chain, Q, _run(judge_probability=0.4), 3000, threshold=0.5, excerpts=5)
    assert judged.abstained and judged.mode == "llm"
    # A marker past the excerpts the model read points nowhere: the quotes instead.
    beyond = replayed(chain, Q, _run(draft=VALID.replace("[1]", "[3]")), 3000, 0.0, excerpts=2)
    assert beyond.mode == "llm-fallback"
    # No draft (the model failed, or retrieval refused): the extractive answer.
    none = replayed(chain, Q, _run(draft=None, mode="llm-fallback"), 3000, 0.0, excerpts=5)
    assert none.mode == "llm-fallback" and none.answer.startswith("D'après")


def test_verifier_and_unsupported_thresholds_are_replayed(sample_service: ContractQA) -> None:
    chain = sample_service.chain
    doubted = _run(verify_probability=0.6)
    refused = replayed(chain, Q, doubted, 3000, 0.5, 5, verify_at=0.65)
    assert refused.abstained and refused.verification is None and refused.notice
    assert "n'établissent pas" in refused.notice
    assert not replayed(chain, Q, doubted, 3000, 0.5, 5, verify_at=0.5).abstained
    assert not replayed(chain, Q, doubted, 3000, 0.5, 5).abstained  # no verifier: as run
    # No supported sentence: the extractive answer, or the abstention below `unsupported_at`.
    unsupported = _run(draft="Le contrat impose une clause de non-concurrence de deux ans [1].",
                       judge_probability=0.7)
    shown = replayed(chain, Q, unsupported, 3000, 0.5, 5, unsupported_at=0.6)
    assert shown.mode == "llm-fallback" and not shown.abstained
    silent = replayed(chain, Q, unsupported, 3000, 0.5, 5, unsupported_at=0.75)
    assert silent.abstained and silent.mode == "llm"
