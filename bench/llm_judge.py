"""The judge alone on each question of a gold file: P(« oui ») as the chain would ask it,
without generating an answer (a few seconds a question with the local 1.5B, where an answer
takes a minute).

    CONTRACTQA_LLM_PROVIDER=local python -m bench.llm_judge D.jsonl judge.jsonl
    python -m bench.llm_rescore D.jsonl run.jsonl 0,0.5 --judge judge.jsonl

Each line of `judge.jsonl` is {"id", "judge_probability"}: None where the chain asks no judge
(retrieval abstained, a lookup, a comparison, a definition). `bench.llm_rescore --judge` puts
these probabilities in place of a run's, so a change of the judge is measured on the run's
recorded answers. Lines already in `judge.jsonl` are kept (an interrupted pass resumes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import load_gold
from eval.runner import TOP_K


def main() -> int:
    gold = load_gold([Path(sys.argv[1])])
    out = Path(sys.argv[2])
    done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()
            if line.strip()} if out.exists() else set()
    settings = Settings().model_copy(update={"llm_judge_threshold": 0.0})
    if settings.llm_provider == "none" or not settings.llm_judge:
        print("Indiquez un modèle (CONTRACTQA_LLM_PROVIDER) et laissez le juge actif "
              "(CONTRACTQA_LLM_JUDGE=true).", file=sys.stderr)
        return 2
    chain = ContractQA(settings).chain
    assert chain.generator is not None
    with out.open("a", encoding="utf-8") as sink:
        for q in gold:
            if q.id in done:
                continue
            extractive = chain.answer(q.question, top_k=TOP_K, generate=False)
            retrieved = chain.retrieve(q.question, top_k=TOP_K)
            probability = None
            if not (extractive.abstained and retrieved.kind == "search"):
                judgement = chain.generator.judged(q.question, retrieved, extractive.citations)
                probability = judgement.probability if judgement else None
            sink.write(json.dumps({"id": q.id, "judge_probability": probability}) + "\n")
            sink.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
