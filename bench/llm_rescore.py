"""Re-score the recorded outputs of an LLM eval run with today's chain, without the model.

    contractqa eval --dataset D.jsonl --calibrate --progress run.jsonl   # LLM mode, judge at 0
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5                 # figures per threshold
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5 --excerpts 10   # a run whose model read 10
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5 --judge judge.jsonl  # today's judge

Each record of `run.jsonl` keeps the model's raw output (`draft`) and the judge's P(« oui »).
Retrieval is deterministic on the same index, so the excerpts the model read are found again;
the draft then goes through today's `settle` (verdict, claim support, fallback) and is scored
like the eval does. At a judge threshold t, an answer whose probability is below t becomes the
judge's abstention, as in the chain. Latency and prompt tokens are those of the run. A record
without a draft (retrieval refused, or the model failed) gets the extractive answer. The
model read the top `--excerpts` (default CONTRACTQA_LLM_EXCERPTS): give the run's own (10
before 2026-12-04), or its markers point at other excerpts. `--judge` replaces the run's judge
probabilities by those of `bench.llm_judge` (the judge alone, today's); `--verify` gives the
verifier's (`bench.llm_verify`, on the run's drafts) and `--verify-at` the thresholds at which
a generated answer they do not establish is refused; `--unsupported-at` the judge thresholds
below which an answer keeping no supported sentence is refused (JudgeConfig).
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import GoldQuestion, QuestionRecord, aggregate, load_gold, score
from eval.runner import TOP_K
from retrieval.chain import QAChain
from retrieval.generation import (
    ABSTAIN,
    read_by_model,
    settle,
    unsupported_silent,
    verified_silent,
)
from retrieval.models import Answer, Judgement
from retrieval.prompts import AnswerPrompt


def replayed(chain: QAChain, q: GoldQuestion, run: dict[str, Any], budget: int,
             threshold: float, excerpts: int, verify_at: float | None = None,
             unsupported_at: float | None = None) -> Answer:
    """The answer the chain gives today for the run's draft (and judge) on question `q`; with
    `verify_at`, a generated answer whose verifier probability is below it is refused."""
    extractive = chain.answer(q.question, top_k=TOP_K, generate=False)
    probability = run.get("judge_probability")
    if probability is not None and probability < threshold and not extractive.abstained:
        return Answer(q.question, ABSTAIN, True, "llm", extractive.citations)
    draft = run.get("draft")
    if not draft:
        extractive.mode = run["mode"] if run["mode"] != "llm" else "extractive"
        return extractive
    citations = read_by_model(chain.retrieve(q.question, top_k=TOP_K), extractive, excerpts)
    _context, used = chain.prompt.context(citations, budget, q.question)
    answer = settle(draft, used, extractive, AnswerPrompt(), "replay")
    judgement = Judgement(probability, "logprobs") if probability is not None else None
    answer = unsupported_silent(answer, judgement, unsupported_at)
    p = run.get("verify_probability")
    if verify_at is not None and p is not None and answer.mode == "llm" and (
            not answer.abstained):
        verification = Judgement(p, "logprobs", threshold=verify_at)
        if verification.abstains:
            return verified_silent(answer, verification)
    return answer


def rescore(chain: QAChain, gold: dict[str, GoldQuestion], runs: list[dict[str, Any]],
            budget: int, threshold: float, excerpts: int, verify_at: float | None = None,
            unsupported_at: float | None = None) -> dict[str, Any]:
    records: list[QuestionRecord] = []
    text_only: list[float] = []
    for run in runs:
        q = gold[run["id"]]
        answer = replayed(chain, q, run, budget, threshold, excerpts, verify_at, unsupported_at)
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
    metrics["verify_threshold"] = verify_at
    metrics["unsupported_threshold"] = unsupported_at
    return metrics


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_rescore")
    parser.add_argument("dataset", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("thresholds", nargs="?", default="0")
    parser.add_argument("--excerpts", type=int, default=None)
    parser.add_argument("--judge", type=Path, default=None)
    parser.add_argument("--verify", type=Path, default=None,
                        help="the verifier's probabilities (bench.llm_verify) for the run")
    parser.add_argument("--verify-at", default="",
                        help="verifier thresholds, comma-separated (default: the run's own)")
    parser.add_argument("--unsupported-at", default="",
                        help="judge thresholds, comma-separated, below which an answer with no "
                             "supported sentence is refused (default: none)")
    args = parser.parse_args()
    gold = {q.id: q for q in load_gold([args.dataset])}
    runs = lines(args.run)
    if args.judge is not None:
        judged = {r["id"]: r["judge_probability"] for r in lines(args.judge)}
        runs = [{**run, "judge_probability": judged.get(run["id"])} for run in runs]
    if args.verify is not None:
        verified = {r["id"]: r["verify_probability"] for r in lines(args.verify)}
        runs = [{**run, "verify_probability": verified.get(run["id"])} for run in runs]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    verify_at: list[float | None] = [float(t) for t in args.verify_at.split(",") if t] or [None]
    settings = Settings().model_copy(update={"llm_provider": "none"})
    excerpts = args.excerpts or settings.llm_excerpts
    chain = ContractQA(settings).chain
    unsupported_at: list[float | None] = [
        float(t) for t in args.unsupported_at.split(",") if t] or [None]
    for t, v, u in itertools.product(thresholds, verify_at, unsupported_at):
        print(json.dumps(rescore(chain, gold, runs, settings.llm_context_tokens, t, excerpts,
                                 v, u)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
