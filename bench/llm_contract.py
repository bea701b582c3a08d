"""Which output contract holds better with a real model: the verdict line or a JSON schema.

    CONTRACTQA_DATA_DIR=... CONTRACTQA_LLM_PROVIDER=local python -m bench.llm_contract \
        eval/llm/heldout_llm12.jsonl

Asks every question through the whole chain under each contract and prints, per contract:
the share of outputs whose verdict could be read, abstention recall, false refusals, the
share answered by the model, and the mean latency.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import load_gold
from retrieval.chain import QAChain
from retrieval.prompts import AnswerPrompt, JsonAnswerPrompt


def main() -> int:
    questions = load_gold([Path(sys.argv[1])])
    service = ContractQA(Settings())
    base = service.chain
    results = {}
    for name, prompt in (("verdict line", AnswerPrompt()), ("json schema", JsonAnswerPrompt())):
        chain = QAChain(base.search, base.config, base.llm, base.model_name, prompt)
        rows: list[dict[str, Any]] = []
        for q in questions:
            t0 = time.perf_counter()
            a = chain.answer(q.question, top_k=10)
            rows.append({"id": q.id, "unanswerable": not q.answerable, "mode": a.mode,
                         "abstained": a.abstained, "verdict": a.verdict,
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(name, json.dumps(rows[-1]), file=sys.stderr, flush=True)
        generated = [r for r in rows if r["mode"] != "extractive"]
        una = [r for r in rows if r["unanswerable"]]
        ans = [r for r in rows if not r["unanswerable"]]
        results[name] = {
            "verdict_read": sum(r["verdict"] is not None for r in generated) / len(generated)
            if generated else None,
            "abstention_recall": sum(r["abstained"] for r in una) / len(una) if una else None,
            "false_refusals": sum(r["abstained"] for r in ans) / len(ans) if ans else None,
            "answered_by_model": sum(r["mode"] == "llm" and not r["abstained"] for r in ans)
            / len(ans) if ans else None,
            "mean_seconds": sum(r["seconds"] for r in rows) / len(rows),
        }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
