"""`contractqa bench scale`: what one write and one question cost at 1,000 and 10,000 contracts.

Generated contracts (24 articles each, their own client's name and figures) indexed with a
hash embedder (no model runs: the figures are the store's, the lexical index's and the
router's, not the embedder's). One data dir is grown to each size in turn (its ingest resumes
by file hash, so a rerun reuses it); at each size a fresh process opens it, as an app server
would, and measures: a warm extractive question, adding one contract, replacing it, deleting
it (each followed by a question, which brings the router up to date), its resident memory, and
the disk of Chroma, the lexical index and the vocabularies. A base of 10 contracts is measured
by the same command for the ratios.

With `--chroma-url`, the index lives on that Chroma server (started by the operator, e.g.
`chroma run --path /tmp/scale/server --host 127.0.0.1 --port 8000`; the bench starts nothing),
one collection per data dir (`scale-base`, `scale-grown`); the data dirs then hold only what
is a cache (lexical index, vocabularies), and Chroma's disk is the server's, not measured here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contractqa.settings import Settings
from ingest.embeddings import EmbeddingModel, Matrix

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 24  # a short services contract's length
BASELINE = 10
HEADINGS = ("Objet", "Durée", "Prix et paiement", "Responsabilité", "Confidentialité",
            "Résiliation", "Garantie", "Données personnelles", "Sous-traitance", "Assurance",
            "Force majeure", "Loi applicable")
QUESTIONS = 5  # warm questions per size, each naming another contract
# Files per ingest call when growing: the lexical index and the router's postings follow each
# call, so a grow stopped at any point leaves at most this many contracts for the first
# question to index.
GROW_BATCH = 500


class HashEmbedder(EmbeddingModel):
    """Deterministic 32-dimension vectors from a text's hash: the store's costs without a model."""

    name = "hash-bench"

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8],
                                                     "big")).standard_normal(32)
                for t in texts]
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), 32)
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def client(i: int) -> str:
    return f"Client{i:05d}"


def contract(name: str, articles: int = ARTICLES, extra: str = "") -> str:
    """A contract of its own: the client's name and figures differ from one to another."""
    seed = sum(ord(c) * (k + 1) for k, c in enumerate(name))
    lines = [f"CONTRAT DE PRESTATION DE SERVICES {name.upper()}", "",
             f"Entre la société {name} SAS, ci-après le Client, et le Prestataire.", ""]
    for i in range(1, articles + 1):
        heading = HEADINGS[(i - 1) % len(HEADINGS)]
        lines += [f"{i}. {heading}",
                  f"La société {name} SAS et le Prestataire conviennent, au titre de l'article "
                  f"{i} ({heading.lower()}), d'un délai de {(seed + i) % 90 + 1} jours et d'un "
                  f"montant de {(seed * i) % 9000 + 100} euros hors taxes.", ""]
    return "\n".join(lines) + extra


def write_contracts(folder: Path, count: int) -> None:
    """Contracts 0 .. count-1 in `folder` (those already there are left as they are)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"contrat_{client(i).lower()}.txt"
        if not path.exists():
            path.write_text(contract(client(i)), encoding="utf-8")


def du_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
    return round(total / 2**20, 1)


def rss_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def scale_settings(data_dir: Path, chroma_url: str | None, **more: Any) -> Settings:
    """The settings of a bench data dir: an embedded Chroma in it, or its own collection on
    the Chroma server at `chroma_url`."""
    where: dict[str, Any] = ({"chroma_url": chroma_url, "collection": f"scale-{data_dir.name}"}
                             if chroma_url else {})
    return Settings(data_dir=data_dir, _env_file=None, **where, **more)  # type: ignore[call-arg]


def measure(data_dir: Path, chroma_url: str | None = None) -> dict[str, Any]:
    """Open the data dir as an app server would and time one write of each kind (its
    contracts are the first generated ones, as `grow` or an interrupted `grow` left them)."""
    from contractqa.service import ContractQA

    settings = scale_settings(data_dir, chroma_url, llm_provider="none")
    opened, service = _timed(lambda: ContractQA(settings, embedder=HashEmbedder()))
    count = len(service.documents())

    def ask(i: int) -> tuple[float, bool]:
        question = f"Quel est le délai de résiliation chez {client(i)} ?"
        took, answer = _timed(lambda: service.ask(question, generate=False))
        cited = {c.document_id for c in answer.citations}
        return took, cited == {f"contrat_{client(i).lower()}"}

    first, _ok = ask(0)
    warm = [ask((k * 7919) % count) for k in range(1, QUESTIONS + 1)]
    folder = data_dir / "extra"
    folder.mkdir(exist_ok=True)
    new = folder / f"contrat_{client(count).lower()}.txt"
    new.write_text(contract(client(count)), encoding="utf-8")
    added, report = _timed(lambda: service.ingest([new]))
    assert report.ok, [r.message for r in report.results]
    after_add, add_routed = ask(count)
    new.write_text(contract(client(count), extra="\n25. Audit\nLe Client peut auditer.\n"),
                   encoding="utf-8")
    replaced, report = _timed(lambda: service.ingest([new]))
    assert report.ok and report.results[0].status == "replaced", report.results
    after_replace, replace_routed = ask(count)
    deleted, existed = _timed(lambda: service.delete(new.stem))
    assert existed
    after_delete, still_routed = ask(count)
    new.unlink()
    cache = settings.cache_dir
    return {
        "contracts": count,
        "passages": service.store.count_chunks(),
        "open_s": round(opened, 2),
        "first_question_ms": _ms(first),
        "warm_question_ms": _ms(statistics.median(t for t, _ok in warm)),
        "warm_questions_routed": sum(ok for _t, ok in warm),
        "add_one_s": round(added, 2),
        "question_after_add_ms": _ms(after_add),
        "replace_one_s": round(replaced, 2),
        "question_after_replace_ms": _ms(after_replace),
        "delete_one_s": round(deleted, 2),
        "question_after_delete_ms": _ms(after_delete),
        "new_contract_routed": add_routed and replace_routed,
        "deleted_contract_still_cited": still_routed,
        **rss_mb(),
        "disk_chroma_mb": None if chroma_url else du_mb(settings.chroma_dir),
        "disk_lexical_mb": du_mb(cache / "lexical"),
        "disk_vocabulary_mb": du_mb(cache / "vocabulary"),
    }


def grow(data_dir: Path, count: int, say: Callable[[str], None],
         chroma_url: str | None = None) -> float:
    """Bring the data dir to `count` generated contracts; the seconds it took."""
    from contractqa.service import ContractQA
    from ingest.progress import IngestProgress

    folder = data_dir / "contracts"
    write_contracts(folder, count)
    service = ContractQA(scale_settings(data_dir, chroma_url), embedder=HashEmbedder())
    started = time.perf_counter()
    last = [0.0]

    paths = [folder / f"contrat_{client(i).lower()}.txt" for i in range(count)]
    for first in range(0, count, GROW_BATCH):

        def progress(event: IngestProgress, first: int = first) -> None:
            now = time.perf_counter()
            if event.stage == "done" and now - last[0] > 30:
                last[0] = now
                say(f"  {first + event.index + 1}/{count} fichiers ({now - started:.0f} s)")

        report = service.ingest(paths[first:first + GROW_BATCH], progress=progress)
        if not report.ok:
            raise SystemExit(f"Indexation refusée : {[r.message for r in report.results][:3]}")
        service.chain.router  # noqa: B018 (the router's postings take the batch)
    return time.perf_counter() - started


def _measure_in_child(data_dir: Path, chroma_url: str | None) -> dict[str, Any]:
    """`measure` in a fresh process (its memory is an app server's, not the ingest's)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "bench.scale", str(data_dir),
                          *([chroma_url] if chroma_url else [])],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"La mesure de {data_dir} a échoué :\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout))


def run(sizes: list[int], folder: Path, say: Callable[[str], None],
        chroma_url: str | None = None) -> dict[str, Any]:
    rows = []
    for count, data_dir in [(BASELINE, folder / "base"), *[(n, folder / "grown")
                                                          for n in sizes]]:
        say(f"{count} contrats : indexation ({data_dir})…")
        setup = grow(data_dir, count, say, chroma_url)
        say(f"{count} contrats : indexés en {setup:.0f} s ; mesure…")
        row = _measure_in_child(data_dir, chroma_url)
        row["setup_s"] = round(setup, 1)
        rows.append(row)
        say(json.dumps(row, ensure_ascii=False))
    base = rows[0]
    for row in rows[1:]:
        row["ratio_to_10"] = {key: round(row[key] / base[key], 2) for key in (
            "warm_question_ms", "add_one_s", "question_after_add_ms", "replace_one_s",
            "delete_one_s", "question_after_delete_ms") if base[key]}
    return {"embedder": "hash (32 dimensions, no model: store, lexical index and router only)",
            "contracts": f"generated, {ARTICLES} articles each (bench/scale.py)",
            "chroma": f"server {chroma_url}" if chroma_url else "embedded, in each data dir",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                       f"Python {platform.python_version()}",
            "rows": rows}


def main(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # the bench builds its own data dirs
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(args.scale_dir)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    say("Banc d'échelle : contrats générés, embeddings par hachage (aucun modèle).")
    result = run(sizes, folder, say, args.chroma_url)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":  # python -m bench.scale DATA_DIR [CHROMA_URL]
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
