"""`contractqa bench scale-cli`: an operator's session at N contracts, the default embedder.

The generated contracts of `bench scale` (their own client's names and figures), indexed by
`contractqa ingest FOLDER` with the configured embedder (a fresh data dir the first time; a
rerun finds them unchanged by their hash). Then every CLI command once, the API (`contractqa
serve` on a free port of 127.0.0.1) and the app's page, each timed and checked; and the
embedder alone on the stored passages' texts, in this process without its cache (the ingest's
ratio to it is the pipeline's overhead at N). Each command is a process of its own, as an
operator would run it: its time includes opening the data dir and loading the model.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.load import free_port, wait_healthy
from bench.scale import client, contract, write_contracts
from contractqa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-scale-token-7Kq2"  # a token of this bench's own server, ask and admin scopes
PAGE = 5000  # passages read from Chroma per call (its SQLite limit is 32,766 variables)
EMBED_BATCH = 64


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """One CLI command in a process of its own: its code, seconds, peak memory and output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "contractqa.cli", *args], cwd=ROOT,
                                   env=env, stdout=out, stderr=err, text=True)
        _pid, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
        process.returncode = os.waitstatus_to_exitcode(status)
        took = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    parsed: Any = None
    if "--json" in args and process.returncode == 0:
        try:
            parsed = json.loads(stdout)
        except json.JSONDecodeError:  # `ask --batch` writes one answer a line
            parsed = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {"command": "contractqa " + " ".join(a if len(a) < 60 else a[:57] + "…" for a in args),
            "rc": process.returncode, "s": round(took, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "json": parsed,
            "stderr_tail": stderr[-400:] if process.returncode else ""}


def _cited(answer: Any) -> set[str]:
    return {c["document_id"] for c in (answer or {}).get("citations", [])}


def _holds(check: Callable[[Any], bool], value: Any) -> bool:
    """`check(value)`, False where the value has not the expected shape."""
    try:
        return bool(check(value))
    except (KeyError, TypeError, ValueError, IndexError):
        return False


def embedder_alone(settings: Settings) -> dict[str, Any]:
    """The configured embedder on every stored passage's text, read a page at a time, with
    no cache: what the ingest would cost if it did nothing but embed."""
    from contractqa.service import ContractQA
    from ingest.embeddings import get_embedding_model

    collection = ContractQA(settings).store.chunks_collection
    texts: list[str] = []
    while page := collection.get(limit=PAGE, offset=len(texts), include=["documents"]):
        if not page["ids"]:
            break
        texts += [t or "" for t in page["documents"] or []]
    model = get_embedding_model(settings.embeddings)  # no cache dir: every text embedded
    model.embed_batch(texts[:8])  # loaded before the clock starts
    started = time.perf_counter()
    for first in range(0, len(texts), EMBED_BATCH):
        model.embed_batch(texts[first:first + EMBED_BATCH])
    took = time.perf_counter() - started
    return {"passages": len(texts), "embedder_alone_s": round(took, 1)}


def _api(env: dict[str, str], data_dir: Path, named: str,
         count: int) -> list[dict[str, Any]]:
    """`contractqa serve` on a free port: the documents' search, a question, the app's page."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (data_dir / "bench-serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "contractqa.cli", "serve"], cwd=ROOT,
                              env={**env, "CONTRACTQA_PORT": str(port)}, stdout=log,
                              stderr=subprocess.STDOUT)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rows: list[dict[str, Any]] = []
    try:
        started = time.perf_counter()
        wait_healthy(base, server, timeout=300)
        rows.append({"command": "contractqa serve (until /health answers 200)", "rc": 0,
                     "s": round(time.perf_counter() - started, 2)})

        def call(what: str, method: str, path: str, check: Callable[[httpx.Response], bool],
                 **kwargs: Any) -> None:
            began = time.perf_counter()
            response = httpx.request(method, base + path, timeout=120, **kwargs)
            took = round(time.perf_counter() - began, 2)
            rows.append({"command": what, "rc": 0 if _holds(check, response) else -1,
                         "status": response.status_code, "s": took})

        call(f"GET /api/documents?q={named}&limit=10", "GET",
             f"/api/documents?q={named}&limit=10", lambda r: r.status_code == 200
             and [d["document_id"] for d in r.json()] == [f"contrat_{named.lower()}"], headers=auth)
        page = f"/api/documents?offset={count // 2}&limit=50"
        call(f"GET {page}", "GET", page, lambda r: r.status_code == 200
             and len(r.json()) == min(50, count - count // 2)
             and int(r.headers["X-Total-Count"]) == count, headers=auth)
        call(f"POST /api/ask (naming {named})", "POST", "/api/ask",
             lambda r: r.status_code == 200 and _cited(r.json()) == {f"contrat_{named.lower()}"},
             headers=auth, json={"question": f"Quel est le délai de paiement chez {named} ?"})
        began = time.perf_counter()
        with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as browser:
            page_ok = browser.post("/login", data={"name": "bench", "token": TOKEN,
                                                   "next": "/"})
        rows.append({"command": "POST /login, then the app's page (/)", "status":
                     page_ok.status_code, "rc": 0 if page_ok.status_code == 200
                     and "gradio" in page_ok.text.lower() else -1,
                     "s": round(time.perf_counter() - began, 2)})
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return rows


def run(count: int, folder: Path, say: Callable[[str], None]) -> dict[str, Any]:
    contracts = folder / "contracts"
    write_contracts(contracts, count)
    data_dir = folder / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "CONTRACTQA_DATA_DIR": str(data_dir), "CONTRACTQA_LLM_PROVIDER": "none",
           "CONTRACTQA_API_TOKENS": f"bench:{TOKEN}:ask+admin"}
    say(f"{count} contrats : contractqa ingest {contracts} …")
    ingest = _cli(env, "ingest", str(contracts), "--json")
    if ingest["rc"] != 0:
        raise SystemExit(f"L'indexation a échoué : {ingest['stderr_tail']}")
    statuses = [r["status"] for r in ingest["json"]]
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    say("le vectoriseur seul sur les mêmes passages…")
    alone = embedder_alone(settings)
    named = client(count // 2)
    doc = f"contrat_{named.lower()}"
    extra = folder / "extra" / f"contrat_{client(count).lower()}.txt"
    extra.parent.mkdir(exist_ok=True)
    extra.write_text(contract(client(count)), encoding="utf-8")
    batch = folder / "questions.jsonl"
    batch.write_text("".join(json.dumps({"id": str(k), "question": q}, ensure_ascii=False) + "\n"
                             for k, q in enumerate((f"Quel est le délai de résiliation chez "
                                                    f"{named} ?",
                                                    "Quel est le montant de l'assurance ?"))),
                     encoding="utf-8")
    checks: list[tuple[tuple[str, ...], Callable[[Any], bool]]] = [
        (("documents", "--json"), lambda j: len(j) == count),
        (("ask", f"Quel est le délai de résiliation chez {named} ?", "--json"),
         lambda j: _cited(j) == {doc}),
        (("ask", "Quel est le montant de la garantie ?", "--document", doc, "--json"),
         lambda j: _cited(j) == {doc}),
        (("ask", "--batch", str(batch), "--json"), lambda j: len(j) == 2),
        (("articles", doc, "--json"), lambda j: len(j) >= 24),
        (("matters", doc, "bench-dossier", "--json"), lambda j: True),
        (("documents", "--matter", "bench-dossier", "--json"),
         lambda j: [d["document_id"] for d in j] == [doc]),
        (("review", "--documents", doc, f"contrat_{client(1).lower()}", "--question",
          "Quel est le délai de paiement ?", "--json"), lambda j: True),
        (("audit", "--json"), lambda j: True),
        (("ingest", str(extra), "--json"),
         lambda j: [r["status"] for r in j] == ["indexed"]),
        (("ask", f"Quel est le délai de résiliation chez {client(count)} ?", "--json"),
         lambda j: _cited(j) == {extra.stem}),
        (("delete", extra.stem, "--json"), lambda j: True),
        (("models", "--json"), lambda j: True),
    ]
    commands = []
    for args, check in checks:
        row = _cli(env, *args)
        if row["rc"] == 0 and not _holds(check, row["json"]):
            row["rc"] = -1  # ran, but not what was expected
        row.pop("json")
        commands.append(row)
        say(f"  {row['command']} : code {row['rc']}, {row['s']} s")
    commands += _api(env, data_dir, named, count)
    extra.unlink()
    return {
        "contracts": count,
        "embedder": settings.embeddings,
        "ingest_s": ingest["s"],
        "ingest_statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "ingest_peak_rss_mb": ingest["peak_rss_mb"],
        **alone,
        "ingest_to_embedder_alone": round(ingest["s"] / alone["embedder_alone_s"], 2)
        if alone["embedder_alone_s"] else None,
        "commands": commands,
        "all_ok": all(c["rc"] == 0 for c in commands),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                   f"Python {platform.python_version()}",
    }
