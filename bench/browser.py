"""Time to first token and to the full answer of the Gradio chat, in headless Chromium; JSON.

    .venv/bin/python bench/browser.py [--questions 5] [--data-dir DIR]

Starts `contractqa serve` (extractive mode) on a free loopback port; without --data-dir it first
indexes data/contracts into a temp dir. In /usr/bin/chromium, an in-page MutationObserver times
from the click on « Envoyer » (performance.now): the first token (the new bot message shows
streamed text, not its « Recherche… » placeholder) and the full answer (no streaming cursor « ▍ »
left and the sources panel out of its waiting state: the handler's last yield). Questions: Craft
AI's liability cap, then the first factual question of each eval/gold/*.jsonl file whose contract
is in data/contracts. The server is always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from load import ROOT, free_port, wait_healthy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LIABILITY_Q = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
BOT = "#cq-chat [data-testid='bot']"

# Resolves {first, full} in ms from the click, or rejects after `timeout` ms.
MEASURE_JS = """([bot, timeout]) => new Promise((resolve, reject) => {
  const chat = document.querySelector('#cq-chat'), src = document.querySelector('#cq-sources');
  const before = document.querySelectorAll(bot).length;
  let first = null;
  const check = () => {
    const msgs = document.querySelectorAll(bot);
    if (msgs.length <= before) return;
    const text = msgs[msgs.length - 1].innerText.trim();
    if (!text || text.startsWith('Recherche dans les contrats')) return;
    const now = performance.now();
    if (first === null) first = now - t0;
    const waiting = src.innerText.includes('Recherche des articles pertinents');
    if (!text.endsWith('▍') && !waiting) {
      obs.disconnect(); clearTimeout(timer); resolve({first, full: now - t0});
    }
  };
  const obs = new MutationObserver(check);
  for (const el of [chat, src])
    obs.observe(el, {childList: true, subtree: true, characterData: true});
  const timer = setTimeout(() => { obs.disconnect(); reject(new Error('timeout')); }, timeout);
  const t0 = performance.now();
  document.querySelector('#cq-send').click();
})"""


def gold_questions(n: int) -> list[str]:
    """The liability question, then the first factual question of each usable gold file."""
    questions = [LIABILITY_Q]
    for path in sorted((ROOT / "eval" / "gold").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("type") != "factual":
                continue
            if any((ROOT / "data" / "contracts").glob(f"{item.get('document')}.*")):
                if item["question"] not in questions:
                    questions.append(item["question"])
            break
    return questions[:n]


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "max": round(max(values), 1)}


def measure(url: str, questions: list[str], timeout_s: float) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    runs: list[tuple[float, float]] = []  # (first token, full answer) per question
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            raise SystemExit(f"Chromium ne démarre pas ({CHROMIUM}) : {exc}\ninstallez-le "
                             "avec `make browser-deps` (apt-get install chromium)") from None
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url + "/")
            page.wait_for_selector("#cq-question textarea")
            for question in questions:
                page.fill("#cq-question textarea", question)
                times = page.evaluate(MEASURE_JS, [BOT, timeout_s * 1000])
                runs.append((float(times["first"]), float(times["full"])))
                print(f"{times['first']:7.0f} ms {times['full']:7.0f} ms  {question}",
                      file=sys.stderr, flush=True)
                page.wait_for_selector("#cq-export:not([disabled])")  # the .then() step ran
                page.wait_for_timeout(300)  # let the previous event settle before the next one
            version = browser.version
        finally:
            browser.close()
    return {"questions": len(questions), "first_token_ms": stats([r[0] for r in runs]),
            "full_answer_ms": stats([r[1] for r in runs]), "browser": f"chromium {version}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="index déjà construit (sinon temporaire)")
    parser.add_argument("--timeout", type=float, default=120.0, help="par réponse, en secondes")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} introuvable : `make browser-deps` (apt-get install chromium)",
              file=sys.stderr)
        return 2
    questions = gold_questions(max(1, args.questions))

    with tempfile.TemporaryDirectory(prefix="contractqa-browser-") as tmp:
        data_dir, port = args.data_dir or Path(tmp) / "data", free_port()
        env = {**os.environ, "CONTRACTQA_DATA_DIR": str(data_dir), "CONTRACTQA_HOST": "127.0.0.1",
               "CONTRACTQA_PORT": str(port), "CONTRACTQA_LLM_PROVIDER": "none",
               "GRADIO_ANALYTICS_ENABLED": "False"}
        cli = str(ROOT / ".venv" / "bin" / "contractqa")
        if args.data_dir is None:
            print("indexation de data/contracts…", file=sys.stderr, flush=True)
            subprocess.run([cli, "ingest", "data/contracts"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        log_path, url = Path(tmp) / "server.log", f"http://127.0.0.1:{port}"
        log = log_path.open("wb")
        proc = subprocess.Popen([cli, "serve"], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_healthy(url, proc, timeout=300)
            report = measure(url, questions, args.timeout)
        except Exception:
            log.flush()
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
