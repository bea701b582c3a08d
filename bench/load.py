"""Bounded load run against POST /api/ask on 127.0.0.1 (extractive mode); prints JSON.

    .venv/bin/python bench/load.py [--clients 20] [--duration 30] [--data-dir DIR] [--api-only]

Starts the server itself (`python -m contractqa.cli serve`, or with --api-only the bare API via
`uvicorn contractqa.api:app_from_env --factory`) on a free loopback port, with a throwaway token
and the rate limit off; without --data-dir it first indexes data/contracts into a temp dir.
Then `--clients` httpx async clients ask questions in a loop for `--duration` seconds. Output:
requests/s, latency p50/p95/p99 (ms), errors, and the server's RSS at the end. Stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from eval.numbers import percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?",
    "Quel est le préavis de résiliation du contrat NumSpot ?",
    "Quelles sont les obligations du sous-traitant en cas de violation de données ?",
    "Quelle est la durée du contrat Horizon SaaS ?",
    "Quelles sont les modalités de paiement des factures ?",
    "Le prestataire peut-il sous-traiter ?",
    "Quelle est la loi applicable et la juridiction compétente ?",
    "Quelles pénalités en cas de retard de paiement ?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> dict[str, float | None]:
    """Current and peak resident memory of a process, in MiB (psutil, else /proc)."""
    try:
        import psutil  # type: ignore[import-untyped]

        info = psutil.Process(pid).memory_info()
        peak = getattr(info, "peak_wset", None)
        return {"rss_mb": round(info.rss / 2**20, 1),
                "peak_rss_mb": round(peak / 2**20, 1) if peak else None}
    except ImportError:
        pass
    fields: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                name = "rss_mb" if key == "VmRSS" else "peak_rss_mb"
                fields[name] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return fields


def _ms(values: list[float], q: float) -> float | None:
    """The eval's nearest-rank percentile (q in 0..100), to 0.1 ms."""
    value = percentile(values, q / 100)
    return None if value is None else round(value, 1)


async def load(url: str, token: str, clients: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=httpx.Timeout(120.0)) as http:
        for q in QUESTIONS[:3]:  # warm-up, not measured
            (await http.post("/api/ask", json={"question": q})).raise_for_status()
        deadline = time.perf_counter() + duration

        async def client(i: int) -> None:
            n = i
            while time.perf_counter() < deadline:
                question = QUESTIONS[n % len(QUESTIONS)]
                n += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post("/api/ask", json={"question": question})
                    if r.status_code == 200 and r.json().get("citations") is not None:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors[f"http_{r.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    done = len(latencies) + sum(errors.values())
    return {
        "requests": done, "ok": len(latencies), "errors": sum(errors.values()),
        "error_kinds": dict(errors), "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(done / elapsed, 2) if elapsed else None,
        "latency_ms": {"p50": _ms(latencies, 50), "p95": _ms(latencies, 95),
                       "p99": _ms(latencies, 99),
                       "max": round(max(latencies), 1) if latencies else None},
    }


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"le serveur s'est arrêté (code {proc.returncode})")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"serveur non prêt après {timeout:g} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--data-dir", type=Path, help="index déjà construit (sinon temporaire)")
    parser.add_argument("--api-only", action="store_true", help="API seule, sans Gradio")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="contractqa-load-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        token, port = secrets.token_urlsafe(24), free_port()
        env = {**os.environ, "CONTRACTQA_DATA_DIR": str(data_dir), "CONTRACTQA_HOST": "127.0.0.1",
               "CONTRACTQA_PORT": str(port), "CONTRACTQA_LLM_PROVIDER": "none",
               "CONTRACTQA_API_TOKENS": f"bench:{token}", "CONTRACTQA_RATE_LIMIT_PER_MINUTE": "0"}
        if args.data_dir is None:
            print("indexation de data/contracts…", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "contractqa.cli", "ingest", "data/contracts"],
                           cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        command = ([sys.executable, "-m", "uvicorn", "contractqa.api:app_from_env", "--factory",
                    "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                   if args.api_only else [sys.executable, "-m", "contractqa.cli", "serve"])
        log = (Path(tmp) / "server.log").open("wb")
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, timeout=300)
            before = rss_mb(proc.pid)
            result = asyncio.run(load(url, token, args.clients, args.duration))
            memory = rss_mb(proc.pid)
        except Exception:
            log.flush()
            sys.stderr.write((Path(tmp) / "server.log").read_text(errors="replace")[-4000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    report = {"endpoint": "POST /api/ask", "mode": "extractive",
              "server": "api-only" if args.api_only else "contractqa serve",
              "clients": args.clients, "duration_s": args.duration, **result,
              "server_rss_mb_before": before["rss_mb"], "server_rss_mb_end": memory["rss_mb"],
              "server_peak_rss_mb": memory["peak_rss_mb"]}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if result["ok"] and not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
