"""The verifier alone on a run's recorded drafts: P(« oui ») that the passages each generated
answer cites establish it, as the chain would ask after answering (a few seconds a question
with the local 1.5B: no answer is generated again).

    CONTRACTQA_LLM_PROVIDER=local python -m bench.llm_verify D.jsonl run.jsonl verify.jsonl
    python -m bench.llm_rescore D.jsonl run.jsonl 0.67 --verify verify.jsonl --verify-at 0,0.5

Each line of `verify.jsonl` is {"id", "verify_probability"}: None where the chain asks no
verifier (no answer written by the model: a judge's or the model's abstention, the extractive
fallback). The draft goes through today's `settle` first (`bench.llm_rescore.replayed`, judge
at 0), so the verifier reads the answer and quotes the chain would show. `--quotes` and
`--tokens` set what it reads (VerifierConfig). Lines already in `verify.jsonl` are kept (an
interrupted pass resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.llm_rescore import lines, replayed
from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import load_gold
from retrieval.judge import VerifierConfig


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_verify")
    parser.add_argument("dataset", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--quotes", action="store_true")
    parser.add_argument("--tokens", type=int, default=700)
    parser.add_argument("--excerpts", type=int, default=None)
    args = parser.parse_args()
    gold = {q.id: q for q in load_gold([args.dataset])}
    done = {r["id"] for r in lines(args.out)} if args.out.exists() else set()
    settings = Settings()
    if settings.llm_provider == "none":
        print("Indiquez un modèle (CONTRACTQA_LLM_PROVIDER).", file=sys.stderr)
        return 2
    chain = ContractQA(settings).chain
    generator = chain.generator
    assert generator is not None
    generator.verifier = VerifierConfig(0.0, args.tokens, args.quotes)
    excerpts = args.excerpts or settings.llm_excerpts
    with args.out.open("a", encoding="utf-8") as sink:
        for run in lines(args.run):
            if run["id"] in done:
                continue
            q = gold[run["id"]]
            answer = replayed(chain, q, run, settings.llm_context_tokens, 0.0, excerpts)
            verification = generator.verified(q.question, answer)
            probability = verification.probability if verification else None
            sink.write(json.dumps({"id": q.id, "verify_probability": probability}) + "\n")
            sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
