"""`contractqa eval`: ask every gold question through the chain and score the answers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from contractqa import wiring
from contractqa.service import visible_documents
from contractqa.settings import Settings
from contractqa.wiring import build_embedder, build_ingestor, open_store
from eval.calibrate import Calibration, calibrate, calibration_table
from eval.metrics import (
    CORPORA,
    GoldQuestion,
    QuestionRecord,
    breakdown,
    check_gate,
    gold_paths,
    load_gold,
    score,
)
from eval.numbers import fmt
from eval.types import EvalConfig, EvalResult, metrics_table
from ingest.embeddings import EmbeddingModel
from ingest.store import ChunkStore
from retrieval.chain import QAChain
from retrieval.models import Answer
from retrieval.retriever import SearchConfig

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"
# The headline: each batch of new contracts measured once, before any change made with it in
# view (recorded by hand from `contractqa eval --json`, never recomputed).
FIRST_MEASUREMENTS = Path(__file__).resolve().parent / "first_measurements.json"
HEADLINE = ("hit@5", "mrr@10", "citation_accuracy", "facts_found", "false_refusal_rate",
            "abstention_recall", "other_contract_rate")
TOP_K = 10
Answerer = Callable[[str], Answer]


def ingest_contracts(settings: Settings, store: ChunkStore, embedder: EmbeddingModel) -> None:
    """Index every corpus (a no-op for files already indexed unchanged).

    A pool file that fails to load is reported and its questions count as misses: the pool
    measures contracts as users bring them, failures included.
    """
    results = build_ingestor(settings, store, embedder).ingest(list(CORPORA.values()))
    errors = [r for r in results if r.status == "error"]
    pool = CORPORA.get("pool")
    for r in errors:
        print(f"ingest error: {r.path}: {r.message}", file=sys.stderr)
    if any(pool is None or Path(r.path).parent != pool for r in errors):
        raise RuntimeError("; ".join(f"{r.path}: {r.message}" for r in errors))


def build_chain(settings: Settings, config: EvalConfig) -> QAChain:
    """The chain for a configuration, over its own collection, with the contracts indexed."""
    spec = config.embeddings or settings.embeddings
    embedder = build_embedder(settings, spec)
    store = open_store(settings, embedder.name)
    ingest_contracts(settings, store, embedder)
    if replace(config, matters=None) == EvalConfig():
        chain = wiring.build_chain(settings, store, embedder)
    else:
        safe = "".join(c if c.isalnum() else "-" for c in store.name)
        chain = wiring.build_chain(settings, store, embedder, SearchConfig(mode=config.mode),
                                   f"lexical-{safe}.json", routing=config.routing, rerank=False)
    chain.refresh()
    return chain


def answerer_for(settings: Settings, config: EvalConfig) -> Answerer:
    if config.tutorial:
        from eval.baselines import TutorialRAG

        return TutorialRAG.build(settings).answer
    chain = build_chain(settings, config)
    within = visible_documents(chain.search.store.documents(), config.matters,
                               settings.default_matter)
    return lambda question: chain.answer(question, top_k=TOP_K, within=within)


def evaluate(settings: Settings, questions: list[GoldQuestion],
             config: EvalConfig | None = None, answerer: Answerer | None = None,
             thresholds: dict[str, Any] | None = None, progress: Path | None = None
             ) -> EvalResult:
    """Ask every question (one warm-up first, not timed) and score the answers; with
    `progress`, each record is appended to that JSONL file as soon as it is scored, and the
    questions it already holds are not asked again (an interrupted run resumes)."""
    config = config or EvalConfig()
    started = time.perf_counter()
    records = _resumed(progress, {q.id for q in questions})
    todo = [q for q in questions if q.id not in {r.id for r in records}]
    ask = answerer or answerer_for(settings, config)
    if todo:
        ask(todo[0].question)  # warm-up: model loading and index build are not latency
    for q in todo:
        t0 = time.perf_counter()
        answer = ask(q.question)
        records.append(score(q, answer, (time.perf_counter() - t0) * 1000))
        if progress is not None:
            with progress.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(records[-1].to_json(), ensure_ascii=False, default=str)
                         + "\n")
    metrics = breakdown(records)
    gate = check_gate(metrics, thresholds) if thresholds else []
    return EvalResult(config, records, metrics, round(time.perf_counter() - started, 1), gate)


def _resumed(progress: Path | None, ids: set[str]) -> list[QuestionRecord]:
    """The records a progress file already holds for these questions (none without one)."""
    if progress is None or not progress.exists():
        return []
    lines = progress.read_text(encoding="utf-8").splitlines()
    records = [QuestionRecord.from_json(json.loads(line)) for line in lines if line.strip()]
    return [r for r in records if r.id in ids]


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, Any]:
    """The gate's rules per corpus; with the pool indexed too, the other corpora share a
    larger index and its "with_pool" rules replace theirs."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    rules = {k: v for k, v in data.items() if not k.startswith("_") and k != "with_pool"}
    if "pool" in CORPORA:
        rules.update(data.get("with_pool", {}))
    return rules


def _outlines(as_json: bool) -> int:
    """Parser quality on the pool's hand outlines (no index, no question asked)."""
    from eval.outlines import outline_table, score_all

    scores = score_all()
    if not scores:
        print("Aucun plan de référence à évaluer : placez les contrats du pool dans "
              "data/pool-contracts/ ou CONTRACTQA_POOL_DIR (eval/gold/pool/SOURCES.md).",
              file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([s.to_json() for s in scores], ensure_ascii=False, indent=2))
    else:
        print(outline_table(scores))
    return 0


def first_measurements(path: Path = FIRST_MEASUREMENTS) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["batches"]
    return batches


def headline_table(batches: list[dict[str, Any]]) -> str:
    """First measurement on new contracts, one row per batch."""
    lines = ["First measurement on new contracts (before any change made with them in view):",
             "| batch | date | commit | questions | " + " | ".join(HEADLINE) + " |",
             "|---" * (len(HEADLINE) + 4) + "|"]
    for b in batches:
        values = " | ".join(fmt(b["metrics"].get(m)) for m in HEADLINE)
        lines.append(f"| {b['batch']} | {b['date']} | {b['commit']} | {b['questions']} | "
                     f"{values} |")
    return "\n".join(lines)


def judge_calibration(settings: Settings) -> bool:
    """Whether `--calibrate` calibrates the LLM judge (LLM mode with the judge on) rather than
    the retrieval confidence."""
    return settings.llm_provider != "none" and settings.llm_judge


# The most false refusals the recommended threshold may give: extractive mode's historical 5 %,
# and issue 17's target for LLM mode (false refusals <= 0.1).
MAX_FALSE_REFUSALS = {"confidence": 0.05, "judge": 0.10}


def calibration_of(records: list[QuestionRecord], settings: Settings, judged: bool,
                   max_false_refusals: float | None = None) -> Calibration:
    if judged:
        return calibrate(records, settings.llm_judge_threshold,
                         max_false_refusals or MAX_FALSE_REFUSALS["judge"], "judge", pooled=True)
    return calibrate(records, settings.abstain_threshold,
                     max_false_refusals or MAX_FALSE_REFUSALS["confidence"])


def main(args: argparse.Namespace, settings: Settings) -> int:
    from eval.baselines import run_baselines
    from eval.report import write_report

    if getattr(args, "outlines", False):
        return _outlines(getattr(args, "json", False))
    if getattr(args, "review", False):
        from eval.review import main as review_main

        return review_main(getattr(args, "json", False), settings)

    questions = load_gold(gold_paths(getattr(args, "dataset", None)))
    if getattr(args, "limit", None):
        questions = questions[: args.limit]
    log = sys.stderr
    print(f"{len(questions)} questions, data dir {settings.data_dir}", file=log)
    calibrating = bool(getattr(args, "calibrate", False))
    judged = calibrating and judge_calibration(settings)
    if judged:
        print("calibration en mode LLM : le juge répond sans jamais refuser (seuil 0) ; la "
              "courbe rejoue sa probabilité « oui »", file=log)
    # Calibrating, neither the judge nor the verifier refuses: their probabilities are replayed.
    run_settings = settings.model_copy(update={
        "llm_judge_threshold": 0.0, "llm_judge_unsupported_threshold": None,
        "llm_verify_threshold": 0.0}) if judged else settings
    progress = getattr(args, "progress", None)
    matters = getattr(args, "matter", None)
    config = EvalConfig(matters=frozenset(matters)) if matters else EvalConfig()
    result = evaluate(run_settings, questions, config, thresholds=load_thresholds(),
                      progress=Path(progress) if progress else None)
    baselines: list[EvalResult] = []
    if getattr(args, "baselines", False):
        baselines = run_baselines(settings, questions, evaluate, default=result, log=log)
    if getattr(args, "report", None):
        write_report(Path(args.report), result, baselines)
        print(f"report written to {args.report}", file=log)
    calibration = calibration_of(result.records, settings, judged,
                                 getattr(args, "max_false_refusals", None)) if calibrating else None
    if getattr(args, "json", False):
        data: dict[str, Any] = {"questions": [r.to_json() for r in result.records],
                                "metrics": result.metrics, "gate": result.gate,
                                "seconds": result.seconds,
                                "first_measurements": first_measurements()}
        if baselines:
            data["baselines"] = {b.config.name: b.metrics for b in baselines}
        if calibration:
            data["calibration"] = calibration.to_json()
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return 0
    print(headline_table(first_measurements()) + "\n")
    print(metrics_table(result.metrics))
    if baselines:
        from eval.report import baseline_table

        print("\n" + baseline_table(baselines))
    failed = [r for r in result.records if r.failures]
    print(f"\n{len(failed)} failed questions; {result.seconds} s")
    for r in failed:
        print(f"  {r.id} ({r.type}): {', '.join(r.failures)}")
    print("gate: " + ("OK" if not result.gate else "MISSED — " + "; ".join(result.gate)))
    if calibration:
        print("\n" + calibration_table(calibration))
    return 0
