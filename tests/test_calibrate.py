"""Abstention calibration: the refusal curve and the recommended threshold."""

from __future__ import annotations

import pytest

from eval.calibrate import calibrate, calibration_table
from eval.metrics import QuestionRecord


def _record(corpus: str, unanswerable: bool, confidence: float | None) -> QuestionRecord:
    return QuestionRecord(
        id=f"{corpus}-{confidence}", type="unanswerable" if unanswerable else "factual",
        corpus=corpus, question="?", hit_rank=None, hits={}, target_coverage=None,
        citation_ok=None, facts_found=None, abstained=False, expected_abstain=unanswerable,
        latency_ms=1.0, mode="extractive", documents_covered=None, cited=[], expected={},
        confidence=confidence)


def _corpus(name: str, answerable: list[float | None], unanswerable: list[float]
            ) -> list[QuestionRecord]:
    return ([_record(name, False, c) for c in answerable]
            + [_record(name, True, c) for c in unanswerable])


def test_recommends_highest_threshold_within_false_refusal_limit() -> None:
    # 20 answerable per corpus: one false refusal (5 %) is allowed, two are not.
    sample = _corpus("sample", [0.3, 0.5] + [0.9] * 18, [0.1, 0.2, 0.4, 0.95])
    extra = _corpus("extra", [0.45] + [0.8] * 18 + [None], [0.2, 0.6])
    result = calibrate(sample + extra, current=0.22, max_false_refusals=0.05)
    # Just above 0.3 refuses one answerable in sample; above 0.45 would refuse one more in extra
    # (still 5 %) but above 0.5 a second one in sample: 0.4501 is the highest allowed.
    assert result.recommended == pytest.approx(0.4501)
    at = {p.corpus: p for p in result.at(result.recommended)}
    assert at["sample"].false_refusal_rate == pytest.approx(0.05)
    assert at["sample"].abstention_recall == pytest.approx(0.75)  # 0.1, 0.2 and 0.4 refused
    assert at["extra"].false_refusal_rate == pytest.approx(0.05)
    assert at["extra"].abstention_recall == pytest.approx(0.5)
    current = {p.corpus: p for p in result.at(0.22)}
    assert current["sample"].abstention_recall == pytest.approx(0.5)
    assert current["sample"].false_refusal_rate == 0.0


def test_answers_without_confidence_are_never_refused() -> None:
    records = _corpus("sample", [None] * 5, [None, 0.1])
    result = calibrate(records, current=0.5)
    high = {p.corpus: p for p in result.at(0.5)}["sample"]
    assert high.false_refusal_rate == 0.0
    assert high.abstention_recall == pytest.approx(0.5)


def test_table_names_the_setting_to_change() -> None:
    result = calibrate(_corpus("sample", [0.5] * 20, [0.1]), current=0.05)
    table = calibration_table(result)
    assert "(recommandé)" in table and "(actuel)" in table
    assert f"CONTRACTQA_ABSTAIN_THRESHOLD={result.recommended}" in table


def test_rejects_an_impossible_limit() -> None:
    with pytest.raises(ValueError, match="max_false_refusals"):
        calibrate([], current=0.2, max_false_refusals=1.0)


# LLM mode: the judge's probability is the signal --------------------------------------------

def _judged(corpus: str, unanswerable: bool, probability: float | None,
            abstained: bool = False) -> QuestionRecord:
    record = _record(corpus, unanswerable, None)
    record.id = f"{corpus}-{probability}-{abstained}"
    record.judge_probability = probability
    record.abstained = abstained
    return record


def test_judge_calibration_pools_corpora_and_keeps_other_refusals() -> None:
    records = ([_judged("sample", False, p) for p in (0.2, 0.6, 0.7, 0.8, 0.9)]
               + [_judged("extra", False, p) for p in (0.65, 0.75, 0.85, 0.95)]
               + [_judged("extra", False, None)]  # a lookup: not judged, never refused
               + [_judged("sample", True, p) for p in (0.1, 0.3, 0.5)]
               + [_judged("extra", True, 0.9, abstained=True)])  # refused by retrieval
    result = calibrate(records, current=0.5, max_false_refusals=0.1, signal="judge",
                       pooled=True)
    assert {p.corpus for p in result.points} == {"toutes"}
    # Ten answerable: one false refusal (10 %) is allowed, two are not: just above 0.2 the
    # first; just above 0.6 the second. Highest allowed: every candidate up to 0.6.
    assert result.recommended == pytest.approx(0.5001)
    (best,) = result.at(result.recommended)
    assert best.false_refusal_rate == pytest.approx(0.1)
    assert best.abstention_recall == pytest.approx(1.0)  # 0.1, 0.3, 0.5 and the refused one
    (none,) = result.at(0.0)
    assert none.abstention_recall == pytest.approx(0.25)  # only the retrieval refusal
    assert none.false_refusal_rate == 0.0
    data = result.to_json()
    assert data["signal"] == "judge" and data["setting"] == "CONTRACTQA_LLM_JUDGE_THRESHOLD"
    # Nine judged answerable against unanswerable 0.1, 0.3, 0.5, 0.9: 9 + 8 + 8 pairs ranked
    # right, and against 0.9 only 0.95 (and 0.9, a tie counting half).
    assert result.separation == pytest.approx(round(26.5 / 36, 4))


def test_judge_table_names_the_judge_setting() -> None:
    records = [_judged("sample", False, 0.9)] * 10 + [_judged("sample", True, 0.1)]
    table = calibration_table(calibrate(records, current=0.5, signal="judge", pooled=True))
    assert "CONTRACTQA_LLM_JUDGE_THRESHOLD=" in table and "juge" in table
