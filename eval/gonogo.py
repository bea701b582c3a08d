"""The go/no-go of the `contractqa-fr` reranker (issue 20), from two `contractqa eval` runs.

    export CONTRACTQA_POOL_DIR=<new contracts> CONTRACTQA_DATA_DIR=<one index for both runs>
    contractqa eval --dataset <new gold>.jsonl --calibrate --json > without.json
    CONTRACTQA_RERANKER=contractqa-fr contractqa eval --dataset <new gold>.jsonl \\
        --calibrate --json > with.json
    python -m eval.gonogo without.json with.json

Prints, without and with the reranker: hit@5, MRR@10, abstention recall at the calibrated
threshold (false refusals ≤ 5 % on every corpus, `--calibrate`'s recommendation), the
separation of answerable from unanswerable questions (AUC) and the latency; then the issue's
rule: keep the reranker if it lifts hit@5 by at least 0.03 or reaches an AUC of 0.75 (read
here: above the run without it, and with no hit@5 lost).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.numbers import fmt

MIN_HIT5_LIFT = 0.03  # the go/no-go rule (issue 20), not measured
MIN_AUC = 0.75


@dataclass(frozen=True)
class Run:
    """The go/no-go figures of one `contractqa eval --calibrate --json` output."""

    questions: int
    hit5: float | None
    mrr10: float | None
    abstention_recall: float | None  # at the recommended threshold; None: no unanswerable
    false_refusals: float | None  # at the recommended threshold
    threshold: float | None
    auc: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    @classmethod
    def read(cls, path: Path) -> Run:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            metrics = data["metrics"]["overall"]
        except (OSError, ValueError, KeyError) as exc:
            raise SystemExit(
                f"{path} : pas une sortie de `contractqa eval --json` ({exc}).") from exc
        calibration = data.get("calibration")
        if not calibration:
            raise SystemExit(f"{path} : relancez `contractqa eval` avec --calibrate (il faut "
                             "le rappel d'abstention au seuil calibré et l'AUC).")
        points = calibration["recommended"]
        recalls = [p["abstention_recall"] for p in points if p["abstention_recall"] is not None]
        refusals = [p["false_refusal_rate"] for p in points
                    if p["false_refusal_rate"] is not None]
        return cls(len(data["questions"]), metrics.get("hit@5"), metrics.get("mrr@10"),
                   min(recalls) if recalls else None, max(refusals) if refusals else None,
                   calibration["recommended_threshold"], calibration.get("separation"),
                   metrics.get("latency_p50_ms"), metrics.get("latency_p95_ms"))


ROWS = (("hit@5", "hit5"), ("MRR@10", "mrr10"),
        ("rappel d'abstention (refus à tort ≤ 5 %)", "abstention_recall"),
        ("refus à tort à ce seuil", "false_refusals"), ("seuil calibré", "threshold"),
        ("AUC répondables / sans réponse", "auc"), ("latence p50 (ms)", "latency_p50_ms"),
        ("latence p95 (ms)", "latency_p95_ms"))


def verdict(without: Run, with_reranker: Run) -> str:
    """GO when the reranker lifts hit@5 by MIN_HIT5_LIFT, or reaches an AUC of MIN_AUC above the
    run without it (the issue's rule), and loses no hit@5 (read here: a lift of the abstention
    signal that costs answers found is no go; an AUC the search already had is no lift)."""
    if without.hit5 is None or with_reranker.hit5 is None:
        return "NO-GO : pas de hit@5 (aucune question répondable ?)."
    lift = with_reranker.hit5 - without.hit5
    auc, base_auc = with_reranker.auc, without.auc
    separates = auc is not None and auc >= MIN_AUC and (base_auc is None or auc > base_auc)
    go = lift >= 0 and (lift >= MIN_HIT5_LIFT or separates)
    return (f"{'GO' if go else 'NO-GO'} : hit@5 {lift:+.3f} (il faut +{MIN_HIT5_LIFT}, et "
            f"aucune perte) ; AUC {fmt(base_auc)} → {fmt(auc)} (il faut {MIN_AUC} et mieux "
            "que sans reranker) — l'un ou l'autre suffit (issue 20).")


def table(without: Run, with_reranker: Run) -> str:
    lines = [f"| | sans reranker ({without.questions} q.) | contractqa-fr "
             f"({with_reranker.questions} q.) |", "|---|---|---|"]
    for label, attr in ROWS:
        lines.append(f"| {label} | {fmt(getattr(without, attr))} | "
                     f"{fmt(getattr(with_reranker, attr))} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.gonogo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("without", type=Path, help="sortie JSON de l'éval sans reranker")
    parser.add_argument("with_reranker", type=Path, help="la même, avec contractqa-fr")
    args = parser.parse_args(argv)
    without, with_reranker = Run.read(args.without), Run.read(args.with_reranker)
    if without.questions != with_reranker.questions:
        print("Attention : les deux éval n'ont pas le même nombre de questions.",
              file=sys.stderr)
    print(table(without, with_reranker))
    print("\n" + verdict(without, with_reranker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
