"""Abstention threshold calibration: the refusals each threshold would give, per corpus.

Extractive mode: every searched answer carries the confidence that abstention is decided on
(`Answer.confidence`). Replaying the eval's confidences against candidate thresholds shows, per
corpus, how many unanswerable questions each threshold refuses (recall) and how many answerable
ones it wrongly refuses (false refusals). The recommended threshold is the highest one whose
false refusals stay within the limit on every corpus. Run it after changing the embedder or the
reranker.

LLM mode: the signal is the judge's P(« oui ») (`Answer.judge`). The eval runs with the judge's
threshold at 0, so it refuses nothing and every answer is generated; a threshold then refuses
what the judge puts below it, on top of the refusals that happen anyway (retrieval's, the
model's own). The LLM question sets are small, so the corpora are pooled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eval.metrics import QuestionRecord
from eval.numbers import fmt

Signal = Literal["confidence", "judge"]
SETTINGS: dict[Signal, str] = {"confidence": "CONTRACTQA_ABSTAIN_THRESHOLD",
                               "judge": "CONTRACTQA_LLM_JUDGE_THRESHOLD"}
POOLED = "toutes"


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
    signal: Signal = "confidence"
    # How well the signal ranks answerable above unanswerable questions (ROC AUC: 0.5 is
    # chance, 1.0 a perfect ranking); None without both kinds of questions.
    separation: float | None = None

    @property
    def setting(self) -> str:
        return SETTINGS[self.signal]

    def at(self, threshold: float) -> list[ThresholdPoint]:
        return [p for p in self.points if p.threshold == threshold]

    def to_json(self) -> dict[str, object]:
        return {
            "signal": self.signal,
            "setting": self.setting,
            "current_threshold": self.current,
            "recommended_threshold": self.recommended,
            "max_false_refusals": self.max_false_refusals,
            "separation": self.separation,
            "recommended": [p.__dict__ for p in self.at(self.recommended)],
            "curve": [p.__dict__ for p in self.points],
        }


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def signal_of(record: QuestionRecord, signal: Signal) -> float | None:
    return record.confidence if signal == "confidence" else record.judge_probability


def refused(record: QuestionRecord, threshold: float, signal: Signal) -> bool:
    """Whether the answer would be a refusal at this threshold.

    Confidence: answers without one (lookups, comparisons, definitions) are never refused.
    Judge: an answer refused in the run (by retrieval or by the model) stays refused; one the
    judge did not see (extractive refusal, lookup) is refused only if it was.
    """
    value = signal_of(record, signal)
    below = value is not None and value < threshold
    return below if signal == "confidence" else record.abstained or below


def separation(records: list[QuestionRecord], signal: Signal) -> float | None:
    """The probability that an answerable question's signal exceeds an unanswerable one's
    (ties count half)."""
    answerable = [v for r in records if not r.expected_abstain
                  and (v := signal_of(r, signal)) is not None]
    unanswerable = [v for r in records if r.expected_abstain
                    and (v := signal_of(r, signal)) is not None]
    if not answerable or not unanswerable:
        return None
    wins = sum((a > u) + 0.5 * (a == u) for a in answerable for u in unanswerable)
    return round(wins / (len(answerable) * len(unanswerable)), 4)


def _group(record: QuestionRecord, pooled: bool) -> str:
    return POOLED if pooled else record.corpus


def _point(records: list[QuestionRecord], threshold: float, corpus: str, signal: Signal
           ) -> ThresholdPoint:
    unanswerable = [refused(r, threshold, signal) for r in records if r.expected_abstain]
    answerable = [refused(r, threshold, signal) for r in records if not r.expected_abstain]
    return ThresholdPoint(round(threshold, 4), corpus, _rate(unanswerable), _rate(answerable))


def calibrate(records: list[QuestionRecord], current: float,
              max_false_refusals: float = 0.05, signal: Signal = "confidence",
              pooled: bool = False) -> Calibration:
    """The refusal curve over every distinct signal value seen, and the threshold to use."""
    if not 0.0 <= max_false_refusals < 1.0:
        raise ValueError("max_false_refusals must be in [0, 1)")
    corpora = sorted({_group(r, pooled) for r in records})
    seen = sorted({v for r in records if (v := signal_of(r, signal)) is not None})
    # Refusing below a threshold: each candidate sits just above one observed value.
    candidates = sorted({0.0, round(current, 4)} | {round(c + 1e-4, 4) for c in seen})
    points = [_point([r for r in records if _group(r, pooled) == corpus], t, corpus, signal)
              for t in candidates for corpus in corpora]
    recommended = 0.0
    for t in candidates:
        rates = [p.false_refusal_rate for p in points if p.threshold == round(t, 4)]
        if all(rate is None or rate <= max_false_refusals for rate in rates):
            recommended = round(t, 4)
    return Calibration(points, recommended, max_false_refusals, round(current, 4), signal,
                       separation(records, signal))


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
            cells += [fmt(p.abstention_recall), fmt(p.false_refusal_rate)]
        mark = " (recommandé)" if t == calibration.recommended else (
            " (actuel)" if t == calibration.current else "")
        lines.append(f"| {t:.4f}{mark} | " + " | ".join(cells) + " |")
    best = calibration.recommended
    signal = ("signal : probabilité « oui » du juge" if calibration.signal == "judge"
              else "signal : confiance de la recherche")
    if calibration.separation is not None:
        signal += (f" ; séparation (AUC, 0,5 = hasard) : "
                   f"{calibration.separation:.3f}".replace(".", ","))
    lines.append(f"\n{signal}. Seuil actuel : {calibration.current} ; seuil recommandé (refus "
                 f"à tort ≤ {calibration.max_false_refusals:.0%} sur chaque corpus) : {best} — "
                 f"{calibration.setting}={best}")
    return "\n".join(lines)

