"""The quality gate: the default configuration meets eval/thresholds.json; a degraded one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from contractqa.settings import Settings
from eval.metrics import GoldQuestion, gold_paths, load_gold
from eval.runner import EvalConfig, EvalResult, evaluate, load_thresholds

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
    assert result.metrics["by_corpus"].keys() >= {"sample", "extra"}
    assert result.metrics["by_origin"]["blind"]["questions"] == sum(q.blind for q in questions)
    assert result.metrics["by_origin"]["blind"]["questions"] >= 70
    if result.gate:
        print("failed questions:\n" + _failed(result))
    assert not result.gate, "thresholds missed: " + "; ".join(result.gate)


def test_gate_fails_on_degraded_configuration(eval_settings: Settings,
                                              questions: list[GoldQuestion]) -> None:
    degraded = EvalConfig("bm25 only, no routing", None, "bm25", routing=False)
    result = evaluate(eval_settings, questions[:30], degraded, thresholds=load_thresholds())
    print("degraded gate: " + "; ".join(result.gate))
    assert result.gate, "the gate should fail for BM25 alone without routing"
