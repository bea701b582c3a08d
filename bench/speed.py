"""`contractqa bench`: ingest, query and review speed and memory, measured on this machine.

Figures are measured each run, never stored: cold ingest of the sample corpus into a fresh
data dir, re-ingest with nothing changed, the embedder alone on the same chunks (the ratio
shows the pipeline's overhead), warm extractive query latency over the gold questions, and
the review table (up to 11 contracts × the 15 due-diligence questions) against plain
questions restricted to each contract, asked in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from contractqa.settings import Settings
from eval.numbers import percentile

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "data" / "contracts"
GOLD = ROOT / "eval" / "gold"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ingest(settings: Settings, data_dir: Path) -> dict[str, Any]:
    from contractqa.service import ContractQA
    from ingest.embeddings import get_embedding_model

    local = settings.model_copy(update={"data_dir": data_dir, "chroma_url": None})
    started = time.perf_counter()
    service = ContractQA(local)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    report = service.ingest([CONTRACTS])
    cold = time.perf_counter() - started
    chunks = sum(r.chunks for r in report.results)
    started = time.perf_counter()
    again = service.ingest([CONTRACTS])
    unchanged = time.perf_counter() - started
    texts = [c.indexed_text for c in service.store.chunks()]
    raw = get_embedding_model(settings.embeddings)  # no cache: the embedder's own cost
    started = time.perf_counter()
    raw.embed_batch(texts)
    embed_only = time.perf_counter() - started
    return {
        "documents": len(report.results),
        "chunks": chunks,
        "service_startup_s": round(startup, 2),
        "cold_ingest_s": round(cold, 2),
        "chunks_per_s": round(chunks / cold, 1),
        "unchanged_reingest_s": round(unchanged, 3),
        "unchanged_statuses": sorted({r.status for r in again.results}),
        "embedder_alone_s": round(embed_only, 2),
        "ingest_to_embedder_ratio": round(cold / embed_only, 2),
        "peak_memory_mb": round(_peak_mb(), 1),
    }


def bench_query(settings: Settings, data_dir: Path) -> dict[str, Any]:
    from contractqa.service import ContractQA

    local = settings.model_copy(update={"data_dir": data_dir, "llm_provider": "none"})
    service = ContractQA(local)
    service.ingest([CONTRACTS])
    questions = [
        json.loads(line)["question"]
        for path in sorted(GOLD.glob("*.jsonl")) if path.name != "extra.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    service.ask(questions[0])  # warm-up: models and indexes loaded
    timings: list[float] = []
    for question in questions:
        started = time.perf_counter()
        service.ask(question)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "questions": len(timings),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95) or 0.0, 1),
        "max_ms": round(max(timings), 1),
        "peak_memory_mb": round(_peak_mb(), 1),
    }


REVIEW_CONTRACTS = 11


def review_contracts() -> list[Path]:
    """Up to 11 contract files, corpus by corpus (samples, extra, synthetic, then the pool)."""
    from eval.metrics import CONTRACT_SUFFIXES, CORPORA

    notes = {"README.md", "SOURCES.md"}  # the corpora's descriptions, not contracts
    files = [p for folder in CORPORA.values() for p in sorted(folder.iterdir())
             if p.suffix in CONTRACT_SUFFIXES and p.name not in notes]
    return files[:REVIEW_CONTRACTS]


def bench_review(settings: Settings, data_dir: Path) -> dict[str, Any]:
    """The due-diligence review over up to 11 contracts, against the same plain questions."""
    from contractqa.service import ContractQA

    local = settings.model_copy(update={"data_dir": data_dir, "llm_provider": "none",
                                        "chroma_url": None})
    service = ContractQA(local)
    service.ingest(review_contracts())
    records = service.documents()
    ids = [r.document_id for r in records]
    questions = list(service.checklists.get("due-diligence").questions)
    service.ask(questions[0].question, documents=ids[:1])  # warm-up: models and indexes loaded

    def timed(run: Any) -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    first = timed(lambda: service.review(questions, ids, refresh=True))
    plain = timed(lambda: [service.ask(q.question, documents=[d], generate=False)
                           for d in ids for q in questions])
    again = timed(lambda: service.review(questions, ids, refresh=True))
    cached = timed(lambda: service.review(questions, ids))
    cells = len(ids) * len(questions)
    return {
        "contracts": len(ids),
        "questions": len(questions),
        "cells": cells,
        "first_review_s": round(first, 2),
        "plain_questions_s": round(plain, 2),
        "review_recomputed_s": round(again, 2),
        "review_to_plain_ratio": round(again / plain, 2),
        "review_from_cache_s": round(cached, 3),
        "cache_to_recomputed_ratio": round(cached / again, 3),
        "ms_per_cell": round(1000 * again / cells, 1),
        "projected_40x15_s": round(again / cells * 600, 1),
        "projected_40x15_first_s": round(first / cells * 600, 1),
        "peak_memory_mb": round(_peak_mb(), 1),
    }


def _run_isolated(what: str) -> dict[str, Any]:
    """Each benchmark in its own process, so peak memory is its own."""
    out = subprocess.run([sys.executable, "-m", "contractqa.cli", "bench", what, "--json"],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def main(args: argparse.Namespace, settings: Settings) -> int:
    machine = {"machine": platform.machine(), "python": platform.python_version(),
               "cpus": os.cpu_count(), "embeddings": settings.embeddings}
    if args.what == "all":
        result: dict[str, Any] = {"machine": machine, "ingest": _run_isolated("ingest"),
                                  "query": _run_isolated("query"),
                                  "review": _run_isolated("review")}
        for name in ("load", "browser"):
            script = ROOT / "bench" / f"{name}.py"
            if script.exists():
                out = subprocess.run([sys.executable, str(script)], capture_output=True,
                                     text=True)
                result[name] = json.loads(out.stdout) if out.returncode == 0 else {
                    "error": out.stderr[-500:]}
    else:
        with tempfile.TemporaryDirectory(prefix="contractqa-bench-") as tmp:
            runners = {"ingest": bench_ingest, "query": bench_query, "review": bench_review}
            result = runners[args.what](settings, Path(tmp))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
