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
from typing import TYPE_CHECKING, Any

import numpy as np

from contractqa.settings import Settings
from eval.numbers import percentile
from ingest.embeddings import EmbeddingModel, Matrix

if TYPE_CHECKING:
    from contractqa.service import ContractQA

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 24  # a short services contract's length
BASELINE = 10
HEADINGS = ("Objet", "Durée", "Prix et paiement", "Responsabilité", "Confidentialité",
            "Résiliation", "Garantie", "Données personnelles", "Sous-traitance", "Assurance",
            "Force majeure", "Loi applicable")
ROUTED = 20  # warm questions per size, each naming another contract (p50/p95, routed share)
UNROUTED = 10  # warm questions naming no contract: the whole base is searched
TOPICS = ("délai de résiliation", "montant de la garantie", "délai de confidentialité",
          "montant de l'assurance", "délai de paiement")
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


def scale_settings(data_dir: Path, chroma_url: str | None, collection: str | None = None,
                   **more: Any) -> Settings:
    """The settings of a bench data dir: an embedded Chroma in it, or its own collection on
    the Chroma server at `chroma_url` (or `collection`, another data dir's)."""
    where: dict[str, Any] = ({"chroma_url": chroma_url,
                              "collection": collection or f"scale-{data_dir.name}"}
                             if chroma_url else {})
    return Settings(data_dir=data_dir, _env_file=None, **where, **more)  # type: ignore[call-arg]


def named_questions(count: int) -> list[tuple[str, str]]:
    """ROUTED questions, each naming another of the first `count` contracts, with its id."""
    picked = [(k * 7919) % count for k in range(1, ROUTED + 1)]
    return [(f"Quel est le {TOPICS[k % len(TOPICS)]} chez {client(i)} ?",
             f"contrat_{client(i).lower()}") for k, i in enumerate(picked, start=1)]


def unnamed_questions() -> list[str]:
    return [f"Quel est le {TOPICS[k % len(TOPICS)]} ?" for k in range(UNROUTED)]


def measure(data_dir: Path, chroma_url: str | None = None) -> dict[str, Any]:
    """Open the data dir as an app server would and time one write of each kind (its
    contracts are the first generated ones, as `grow` or an interrupted `grow` left them)."""
    from contractqa.service import ContractQA

    settings = scale_settings(data_dir, chroma_url, llm_provider="none")
    opened, service = _timed(lambda: ContractQA(settings, embedder=HashEmbedder()))
    count = len(service.documents())

    def ask(i: int) -> tuple[float, bool]:
        return asked(service, f"Quel est le {TOPICS[0]} chez {client(i)} ?",
                     f"contrat_{client(i).lower()}")

    first, _ok = ask(0)
    warm = [asked(service, q, doc) for q, doc in named_questions(count)]
    unrouted = [asked(service, q, "")[0] for q in unnamed_questions()]
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
        "routed_p95_ms": _ms(percentile([t for t, _ok in warm], 0.95) or 0.0),
        "warm_questions_routed": sum(ok for _t, ok in warm),
        "routed_questions": len(warm),
        "unrouted_p50_ms": _ms(statistics.median(unrouted)),
        "unrouted_p95_ms": _ms(percentile(unrouted, 0.95) or 0.0),
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


def asked(service: ContractQA, question: str, document: str) -> tuple[float, bool]:
    """The seconds an extractive answer took, and whether it cites `document` alone."""
    took, answer = _timed(lambda: service.ask(question, generate=False))
    return took, {c.document_id for c in answer.citations} == {document}


def measure_pair(data_dir: Path, chroma_url: str) -> dict[str, Any]:
    """Two app servers on one collection of the Chroma server: the grown data dir's, and a
    second with a data dir of its own (created empty the first time: its first question
    builds its lexical index and postings from Chroma, as a server added to a firm's
    deployment would). What one writes, the other must answer from, or stop citing, at its
    next question (the version stamp kept in Chroma). Both live in this process, each with
    its own data dir and caches (`tests/test_app_servers.py` runs two processes)."""
    from contractqa.service import ContractQA

    def server(directory: Path) -> ContractQA:
        return ContractQA(scale_settings(directory, chroma_url, f"scale-{data_dir.name}",
                                         llm_provider="none"), embedder=HashEmbedder())

    first = server(data_dir)
    count = len(first.documents())
    second_dir = data_dir.with_name(f"{data_dir.name}-second")
    fresh = not second_dir.exists()
    opened, second = _timed(lambda: server(second_dir))
    name = client(count)
    document = f"contrat_{name.lower()}"
    first_question = asked(second, f"Quel est le {TOPICS[0]} chez {client(1)} ?",
                           f"contrat_{client(1).lower()}")
    warm = [asked(second, q, doc) for q, doc in named_questions(count)]
    folder = data_dir / "extra"
    folder.mkdir(exist_ok=True)
    new = folder / f"{document}.txt"
    new.write_text(contract(name), encoding="utf-8")
    assert first.ingest([new]).ok
    question = f"Quel est le {TOPICS[0]} chez {name} ?"
    seen_add = asked(second, question, document)
    assert second.delete(document)
    after_delete = asked(first, question, document)
    new.unlink()
    times = [t for t, _ok in warm]
    return {
        "contracts": count,
        "second_data_dir_new": fresh,
        "second_open_s": round(opened, 2),
        "second_first_question_ms": _ms(first_question[0]),
        "second_warm_question_ms": _ms(statistics.median(times)),
        "second_routed_p95_ms": _ms(percentile(times, 0.95) or 0.0),
        "second_questions_routed": sum(ok for _t, ok in warm),
        "routed_questions": len(warm),
        "first_adds_second_cites_at_next_question": seen_add[1],
        "second_question_after_the_add_ms": _ms(seen_add[0]),
        "second_deletes_first_stops_citing_at_next_question": not after_delete[1],
        "first_question_after_the_delete_ms": _ms(after_delete[0]),
        **rss_mb(),
    }


def measure_plain(data_dir: Path, chroma_url: str | None) -> dict[str, Any]:
    """The plain LangChain + Chroma pipeline (bench/plain.py) over the data dir's contracts,
    indexed the first time (resumed by id), then the same questions and writes."""
    from bench import plain

    paths = sorted((data_dir / "contracts").glob("*.txt"))
    store = plain.open_plain(data_dir, chroma_url, HashEmbedder())
    setup, ingested = _timed(lambda: plain.ingest(store, paths))
    count = len(paths)
    new = data_dir / "extra" / f"contrat_{client(count).lower()}.txt"
    new.parent.mkdir(exist_ok=True)
    new.write_text(contract(client(count)), encoding="utf-8")
    row = plain.measure(store, named_questions(count), unnamed_questions(), new, _timed)
    new.unlink()
    return {"contracts": count, "ingested_now": ingested, "ingest_s": round(setup, 1), **row,
            **rss_mb(),
            "disk_chroma_mb": None if chroma_url else du_mb(data_dir / "plain-chroma")}


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


def _in_child(mode: str, data_dir: Path, chroma_url: str | None,
              *more: str) -> dict[str, Any]:
    """One of MODES in a fresh process (its memory is that step's alone, as an app server's
    or an ingest's would be); its progress goes to this process's stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "bench.scale", mode, str(data_dir), *more,
                          *([chroma_url] if chroma_url else [])],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"L'étape « {mode} » du banc a échoué sur {data_dir} "
                         f"(code {out.returncode}) : voir ses messages ci-dessus.")
    return dict(json.loads(out.stdout))


def _grow_step(data_dir: Path, count: int, chroma_url: str | None) -> dict[str, Any]:
    setup = grow(data_dir, count, lambda text: print(text, file=sys.stderr, flush=True),
                 chroma_url)
    return {"setup_s": round(setup, 1), "ingest_peak_rss_mb": rss_mb()["peak_rss_mb"]}


RATIOS = ("warm_question_ms", "routed_p95_ms", "unrouted_p95_ms", "add_one_s",
          "question_after_add_ms", "replace_one_s", "delete_one_s", "question_after_delete_ms")


def run(sizes: list[int], folder: Path, say: Callable[[str], None],
        chroma_url: str | None = None, plain: bool = True) -> dict[str, Any]:
    """At each size: grow (a process of its own), then ours measured in a fresh process, the
    plain LangChain + Chroma pipeline on the same contracts (`plain`), and with a Chroma
    server, a second app server on the same collection."""
    rows = []
    for count, data_dir in [(BASELINE, folder / "base"), *[(n, folder / "grown")
                                                          for n in sizes]]:
        say(f"{count} contrats : indexation ({data_dir})…")
        grown = _in_child("grow", data_dir, chroma_url, str(count))
        say(f"{count} contrats : indexés en {grown['setup_s']:.0f} s ; mesure…")
        row = {**_in_child("measure", data_dir, chroma_url), **grown}
        if plain:
            say(f"{count} contrats : la chaîne LangChain + Chroma simple…")
            row["plain"] = _in_child("plain", data_dir, chroma_url)
        if chroma_url:
            say(f"{count} contrats : un second serveur d'application…")
            row["second_server"] = _in_child("pair", data_dir, chroma_url)
        rows.append(row)
        say(json.dumps(row, ensure_ascii=False))
    base = rows[0]
    for row in rows[1:]:
        row["ratio_to_10"] = {key: round(row[key] / base[key], 2) for key in RATIOS
                              if base.get(key)}
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
    result = run(sizes, folder, say, args.chroma_url, plain=not args.no_plain)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


MODES: dict[str, Callable[..., dict[str, Any]]] = {
    "measure": measure, "pair": measure_pair, "plain": measure_plain}


if __name__ == "__main__":  # python -m bench.scale [MODE] DATA_DIR [COUNT] [CHROMA_URL]
    argv = sys.argv[1:]
    mode = argv.pop(0) if argv[0] in (*MODES, "grow") else "measure"
    folder_arg = Path(argv.pop(0))
    if mode == "grow":
        size = int(argv.pop(0))
        print(json.dumps(_grow_step(folder_arg, size, argv[0] if argv else None)))
    else:
        print(json.dumps(MODES[mode](folder_arg, argv[0] if argv else None)))
