"""The reranker's go/no-go summary (eval/gonogo.py) read from `contractqa eval --calibrate --json`
outputs (small ones written here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.gonogo import Run, main, verdict


def eval_json(path: Path, hit5: float, auc: float, recall: float, calibrate: bool = True) -> Path:
    data: dict[str, object] = {
        "questions": [{}] * 40,
        "metrics": {"overall": {"hit@5": hit5, "mrr@10": hit5 - 0.1, "latency_p50_ms": 20.0,
                                "latency_p95_ms": 35.0}},
    }
    if calibrate:
        data["calibration"] = {
            "recommended_threshold": 0.31, "separation": auc,
            "recommended": [{"threshold": 0.31, "corpus": "pool", "abstention_recall": recall,
                             "false_refusal_rate": 0.04}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_reads_the_figures_of_one_run(tmp_path: Path) -> None:
    run = Run.read(eval_json(tmp_path / "a.json", 0.9, 0.6, 0.25))
    assert (run.questions, run.hit5, run.auc, run.abstention_recall) == (40, 0.9, 0.6, 0.25)
    assert run.false_refusals == 0.04 and run.threshold == 0.31 and run.latency_p95_ms == 35.0


def test_verdict_follows_the_issue_rule(tmp_path: Path) -> None:
    base = Run.read(eval_json(tmp_path / "a.json", 0.90, 0.60, 0.2))
    small_lift = Run.read(eval_json(tmp_path / "b.json", 0.92, 0.70, 0.3))
    lift = Run.read(eval_json(tmp_path / "c.json", 0.93, 0.60, 0.2))
    separates = Run.read(eval_json(tmp_path / "d.json", 0.90, 0.80, 0.6))
    loses_answers = Run.read(eval_json(tmp_path / "e.json", 0.85, 0.80, 0.6))
    already = Run.read(eval_json(tmp_path / "f.json", 0.90, 0.85, 0.6))
    assert verdict(base, small_lift).startswith("NO-GO")
    assert verdict(base, lift).startswith("GO")
    assert verdict(base, separates).startswith("GO")
    assert verdict(base, loses_answers).startswith("NO-GO")
    assert verdict(already, separates).startswith("NO-GO")  # no better than without


def test_a_run_without_calibration_says_to_add_it(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="--calibrate"):
        main([str(eval_json(tmp_path / "a.json", 0.9, 0.6, 0.2, calibrate=False)),
              str(eval_json(tmp_path / "b.json", 0.9, 0.6, 0.2))])
    assert main([str(eval_json(tmp_path / "a.json", 0.9, 0.6, 0.2)),
                 str(eval_json(tmp_path / "b.json", 0.95, 0.6, 0.2))]) == 0
    out = capsys.readouterr().out
    assert "| hit@5 | 0.900 | 0.950 |" in out and "GO" in out
