"""Re-score the recorded outputs of an LLM eval run with today's chain, without the model.

    contractqa eval --dataset D.jsonl --calibrate --progress run.jsonl   # LLM mode, judge at 0
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5                 # figures per threshold
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5 10              # a run whose model read 10

Each record of `run.jsonl` keeps the model's raw output (`draft`) and the judge's P(« oui »).
Retrieval is deterministic on the same index, so the excerpts the model read are found again;
the draft then goes through today's `settle` (verdict, claim support, fallback) and is scored
like the eval does. At a judge threshold t, an answer whose probability is below t becomes the
judge's abstention, as in the chain. Latency and prompt tokens are those of the run. A record
without a draft (retrieval refused, or the model failed) gets the extractive answer. The
model read the top `excerpts` (the 4th argument; default CONTRACTQA_LLM_EXCERPTS): give the
run's own (10 before 2026-12-04), or its markers point at other excerpts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import GoldQuestion, QuestionRecord, aggregate, load_gold, score
from eval.runner import TOP_K
from retrieval.chain import QAChain
from retrieval.generation import ABSTAIN, settle
from retrieval.models import Answer
from retrieval.prompts import AnswerPrompt


def replayed(chain: QAChain, q: GoldQuestion, run: dict[str, Any], budget: int,
             threshold: float, excerpts: int) -> Answer:
    """The answer the chain gives today for the run's draft (and judge) on question `q`."""
    extractive = chain.answer(q.question, top_k=TOP_K, generate=False)
    probability = run.get("judge_probability")
    if probability is not None and probability < threshold and not extractive.abstained:
        return Answer(q.question, ABSTAIN, True, "llm", extractive.citations)
    draft = run.get("draft")
    if not draft:
        extractive.mode = run["mode"] if run["mode"] != "llm" else "extractive"
        return extractive
    retrieved = chain.retrieve(q.question, top_k=TOP_K)
    citations = extractive.citations or retrieved.citations
    if retrieved.kind == "search":
        citations = citations[:excerpts]
    _context, used = chain.prompt.context(citations, budget, q.question)
    return settle(draft, used, extractive, AnswerPrompt(), "replay")


def rescore(chain: QAChain, gold: dict[str, GoldQuestion], runs: list[dict[str, Any]],
            budget: int, threshold: float, excerpts: int) -> dict[str, Any]:
    records: list[QuestionRecord] = []
    text_only: list[float] = []
    for run in runs:
        q = gold[run["id"]]
        answer = replayed(chain, q, run, budget, threshold, excerpts)
        answer.prompt_tokens = run.get("prompt_tokens")
        records.append(score(q, answer, run["latency_ms"]))
        if answer.mode == "llm" and records[-1].facts_found is not None:
            # The facts the model's own words hold, without the passages quoted under them.
            text_only.append(score(q, replace(answer, answer=answer.body), 0.0).facts_found or 0.0)
        elif records[-1].facts_found is not None:
            text_only.append(records[-1].facts_found)
    metrics = aggregate(records)
    metrics["facts_found_model_text"] = round(sum(text_only) / len(text_only), 4) if (
        text_only) else None
    metrics["judge_threshold"] = threshold
    return metrics


def main() -> int:
    gold = {q.id: q for q in load_gold([Path(sys.argv[1])])}
    runs = [json.loads(line) for line in Path(sys.argv[2]).read_text(encoding="utf-8")
            .splitlines() if line.strip()]
    thresholds = [float(t) for t in (sys.argv[3] if len(sys.argv) > 3 else "0").split(",")]
    settings = Settings().model_copy(update={"llm_provider": "none"})
    excerpts = int(sys.argv[4]) if len(sys.argv) > 4 else settings.llm_excerpts
    chain = ContractQA(settings).chain
    for t in thresholds:
        print(json.dumps(rescore(chain, gold, runs, settings.llm_context_tokens, t, excerpts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
