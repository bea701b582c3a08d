"""The eval's shared types and formatting: what a run is configured with and returns, one
number formatter, one percentile, and the metrics table. Every eval module imports this one;
it imports none of them but `eval.metrics`' records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eval.metrics import QuestionRecord
from eval.numbers import fmt
from retrieval.retriever import SearchMode


@dataclass(frozen=True)
class EvalConfig:
    """One configuration to measure; the default is what users get."""

    name: str = "default"
    embeddings: str | None = None  # None: settings.embeddings
    mode: SearchMode = "hybrid"
    routing: bool = True
    tutorial: bool = False
    # Ask as a caller bound to these matters (issue 22's wall), None: as an unbound caller.
    matters: frozenset[str] | None = None


@dataclass
class EvalResult:
    config: EvalConfig
    records: list[QuestionRecord]
    metrics: dict[str, Any]
    seconds: float
    gate: list[str] = field(default_factory=list)


COLUMNS = ("questions", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "target_coverage",
           "citation_accuracy", "facts_found", "abstention_precision", "abstention_recall",
           "false_refusal_rate", "other_contract_rate", "documents_covered", "citation_validity",
           "answered_by_model", "unsupported_answers", "unsupported_sentences",
           "prompt_tokens_mean", "latency_p50_ms", "latency_p95_ms")


def metrics_table(metrics: dict[str, Any], columns: tuple[str, ...] = COLUMNS) -> str:
    rows = [("overall", metrics["overall"])]
    rows += [(f"corpus {k}", v) for k, v in metrics["by_corpus"].items()]
    rows += [(f"questions {k}", v) for k, v in metrics.get("by_origin", {}).items()]
    rows += [(f"type {k}", v) for k, v in metrics["by_type"].items()]
    cols = [c for c in columns if any(m.get(c) is not None for _, m in rows)]
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(fmt(m.get(c)) for c in cols) + " |"
              for name, m in rows]
    return "\n".join(lines)
