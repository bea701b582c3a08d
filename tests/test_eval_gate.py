"""The quality gate: the default configuration meets eval/thresholds.json; a degraded one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from contractqa.settings import Settings
from eval.metrics import CORPORA, GoldQuestion, gold_paths, load_gold
from eval.runner import evaluate, load_thresholds
from eval.types import EvalConfig, EvalResult

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("eval-data")
    return Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def questions() -> list[GoldQuestion]:
    return load_gold(gold_paths(None))


def _failed(result: EvalResult) -> str:
    lines = []
    for r in result.records:
        if r.failures:
            e = r.expected
            got = "; ".join(f"{c.document}/{c.section}/{c.article}" for c in r.cited)
            lines.append(f"  {r.id} ({r.type}): {', '.join(r.failures)} — expected "
                         f"{e['document']}/{e['section']}/{e['articles']}, cited {got}")
    return "\n".join(lines)


def test_default_configuration_meets_thresholds(eval_settings: Settings,
                                                questions: list[GoldQuestion]) -> None:
    thresholds = load_thresholds()
    result = evaluate(eval_settings, questions, thresholds=thresholds)
    assert result.metrics["by_corpus"].keys() == set(CORPORA)
    assert result.metrics["by_origin"]["blind"]["questions"] == sum(q.blind for q in questions)
    assert result.metrics["by_origin"]["blind"]["questions"] >= 160
    if result.gate:
        print("failed questions:\n" + _failed(result))
    assert not result.gate, "thresholds missed: " + "; ".join(result.gate)


def test_gate_fails_on_degraded_configuration(eval_settings: Settings,
                                              questions: list[GoldQuestion]) -> None:
    degraded = EvalConfig("bm25 only, no routing", None, "bm25", routing=False)
    result = evaluate(eval_settings, questions[:30], degraded, thresholds=load_thresholds())
    print("degraded gate: " + "; ".join(result.gate))
    assert result.gate, "the gate should fail for BM25 alone without routing"


def test_calibrate_command_reports_the_refusal_curve(
        eval_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from eval.runner import main

    args = argparse.Namespace(dataset=None, limit=40, baselines=False, report=None, json=True,
                              calibrate=True)
    assert main(args, eval_settings) == 0
    data = json.loads(capsys.readouterr().out)
    calibration = data["calibration"]
    assert calibration["current_threshold"] == eval_settings.abstain_threshold
    assert calibration["max_false_refusals"] == 0.05
    curve = calibration["curve"]
    assert {p["corpus"] for p in curve} <= set(CORPORA) and curve
    # The recommendation keeps false refusals within the limit on every corpus.
    assert all(p["false_refusal_rate"] is None or p["false_refusal_rate"] <= 0.05
               for p in calibration["recommended"])
    # Searched answers carry the confidence the curve is built from (lookups do not).
    confidences = [q["confidence"] for q in data["questions"] if q["confidence"] is not None]
    assert len(confidences) >= 20 and all(0.0 <= c <= 1.0 for c in confidences)


def test_overall_rules_gate_every_question() -> None:
    from eval.metrics import check_gate

    metrics = {"overall": {"facts_found": 0.74, "other_contract_rate": 0.01},
               "by_corpus": {"sample": {"facts_found": 0.9}}}
    rules = {"overall": {"facts_found": {"min": 0.75}, "other_contract_rate": {"max": 0.02}},
             "sample": {"facts_found": {"min": 0.75}}}
    assert check_gate(metrics, rules) == ["overall facts_found = 0.74 < min 0.75"]
