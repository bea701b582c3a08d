"""Abstention threshold calibration: the refusals each threshold would give, per corpus.

Every searched answer carries the confidence that abstention is decided on (`Answer.confidence`).
Replaying the eval's confidences against candidate thresholds shows, per corpus, how many
unanswerable questions each threshold refuses (recall) and how many answerable ones it wrongly
refuses (false refusals). The recommended threshold is the highest one whose false refusals stay
within the limit on every corpus. Run it after changing the embedder or the reranker.
"""

from __future__ import annotations

from dataclasses import dataclass

from eval.metrics import QuestionRecord


@dataclass(frozen=True)
class ThresholdPoint:
    """What one threshold would give on one corpus."""

    threshold: float
    corpus: str
    abstention_recall: float | None
    false_refusal_rate: float | None


@dataclass(frozen=True)
class Calibration:
    points: list[ThresholdPoint]
    recommended: float
    max_false_refusals: float
    current: float

    def at(self, threshold: float) -> list[ThresholdPoint]:
        return [p for p in self.points if p.threshold == threshold]

    def to_json(self) -> dict[str, object]:
        return {
            "current_threshold": self.current,
            "recommended_threshold": self.recommended,
            "max_false_refusals": self.max_false_refusals,
            "recommended": [p.__dict__ for p in self.at(self.recommended)],
            "curve": [p.__dict__ for p in self.points],
        }


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _point(records: list[QuestionRecord], threshold: float, corpus: str) -> ThresholdPoint:
    # Answers without a confidence (lookups, comparisons, definitions) are never refused.
    def refused(r: QuestionRecord) -> bool:
        return r.confidence is not None and r.confidence < threshold

    unanswerable = [refused(r) for r in records if r.expected_abstain]
    answerable = [refused(r) for r in records if not r.expected_abstain]
    return ThresholdPoint(round(threshold, 4), corpus, _rate(unanswerable), _rate(answerable))


def calibrate(records: list[QuestionRecord], current: float,
              max_false_refusals: float = 0.05) -> Calibration:
    """The refusal curve over every distinct confidence seen, and the threshold to use."""
    if not 0.0 <= max_false_refusals < 1.0:
        raise ValueError("max_false_refusals must be in [0, 1)")
    corpora = sorted({r.corpus for r in records})
    seen = sorted({r.confidence for r in records if r.confidence is not None})
    # Refusing below a threshold: each candidate sits just above one observed confidence.
    candidates = sorted({0.0, round(current, 4)} | {round(c + 1e-4, 4) for c in seen})
    points = [_point([r for r in records if r.corpus == corpus], t, corpus)
              for t in candidates for corpus in corpora]
    recommended = 0.0
    for t in candidates:
        rates = [p.false_refusal_rate for p in points if p.threshold == round(t, 4)]
        if all(rate is None or rate <= max_false_refusals for rate in rates):
            recommended = round(t, 4)
    return Calibration(points, recommended, max_false_refusals, round(current, 4))


def calibration_table(calibration: Calibration, rows: int = 12) -> str:
    """A readable summary: a spread of thresholds, the current and the recommended one."""
    thresholds = sorted({p.threshold for p in calibration.points})
    step = max(1, len(thresholds) // rows)
    shown = sorted(set(thresholds[::step]) | {calibration.recommended, calibration.current})
    corpora = sorted({p.corpus for p in calibration.points})
    header = "| seuil | " + " | ".join(f"{c}: rappel abstention | {c}: refus à tort"
                                        for c in corpora) + " |"
    lines = [header, "|---" * (1 + 2 * len(corpora)) + "|"]
    for t in shown:
        by_corpus = {p.corpus: p for p in calibration.at(t)}
        cells = []
        for c in corpora:
            p = by_corpus[c]
            cells += [_fmt(p.abstention_recall), _fmt(p.false_refusal_rate)]
        mark = " (recommandé)" if t == calibration.recommended else (
            " (actuel)" if t == calibration.current else "")
        lines.append(f"| {t:.4f}{mark} | " + " | ".join(cells) + " |")
    best = calibration.recommended
    lines.append(f"\nSeuil actuel : {calibration.current} ; seuil recommandé (refus à tort ≤ "
                 f"{calibration.max_false_refusals:.0%} sur chaque corpus) : {best} — "
                 f"CONTRACTQA_ABSTAIN_THRESHOLD={best}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
