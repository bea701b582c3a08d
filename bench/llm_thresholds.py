"""How often the two hand-set thresholds of LLM mode fire, and what nearby values would change.

    CONTRACTQA_DATA_DIR=... contractqa eval --dataset D.jsonl --calibrate --progress run.jsonl
    CONTRACTQA_DATA_DIR=... python -m bench.llm_thresholds D.jsonl [run.jsonl or run.json]
    CONTRACTQA_DATA_DIR=... python -m bench.llm_thresholds eval/gold    # every gold file under it

- `retrieval.prompts.SELECT_ABOVE_TOKENS` (excerpts longer than this are cut to the question's
  sentences): on every answerable question of D, for each value, the excerpts cut, the
  prompt's excerpt tokens, the excerpts that fit the budget, and the questions whose gold
  evidence is still whole in the prompt. This needs no model: it measures the prompt; what the
  model would write from another prompt needs the model.
- `CONTRACTQA_LLM_EXCERPTS` (how many of the top excerpts the model reads): for each count,
  the questions whose gold evidence is in the prompt and the prompt's excerpt tokens.
- `retrieval.support.MIN_OVERLAP` (share of a sentence's content words its cited excerpts must
  hold), with an LLM eval run: the model's raw outputs (`draft`) are checked again at each
  value, giving the sentences removed for want of shared words, the answers left with no
  sentence (shown as quotes instead), and whether a removed or kept sentence holds a gold fact.
  The removals at the value in use are broken down by reason.
Retrieval is re-run (deterministic on the same index) to get the excerpts the model was shown.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contractqa.service import ContractQA
from contractqa.settings import Settings
from eval.metrics import GoldQuestion, load_gold, norm
from eval.runner import TOP_K
from ingest.chunking import count_tokens
from retrieval.chain import QAChain
from retrieval.models import Citation
from retrieval.prompts import SELECT_ABOVE_TOKENS, AnswerPrompt, fence_excerpts, select_sentences
from retrieval.support import MIN_OVERLAP, Claim, check_answer

OVERLAP_VALUES = (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
SELECT_VALUES: tuple[int | None, ...] = (60, 90, 120, 160, 240, None)  # None: never cut
EXCERPT_VALUES = (1, 2, 3, 4, 5, 6, 8, 10)


@dataclass
class Generated:
    question: GoldQuestion
    citations: list[Citation]
    draft: str


def _facts(q: GoldQuestion, text: str) -> bool:
    return any(norm(f) in norm(text) for f in q.answer_contains)


def overlap_rows(items: list[Generated], budget: int) -> list[dict[str, Any]]:
    rows = []
    for value in OVERLAP_VALUES:
        removed = answers_without_sentence = fact_removed = fact_kept = claims = 0
        for item in items:
            checked = _checked(item, budget, value)
            claims += len(checked)
            words = [c for c in checked if (c.reason or "").startswith("mots absents")]
            removed += len(words)
            fact_removed += sum(_facts(item.question, c.sentence) for c in words)
            kept = [c for c in checked if c.supported and c.markers]
            fact_kept += sum(_facts(item.question, c.sentence) for c in kept)
            answers_without_sentence += not kept
        rows.append({"min_overlap": value, "answers": len(items), "sentences": claims,
                     "removed_for_words": removed, "removed_holding_a_fact": fact_removed,
                     "kept_holding_a_fact": fact_kept,
                     "answers_with_no_sentence_left": answers_without_sentence})
    return rows


def removal_reasons(items: list[Generated], budget: int) -> dict[str, int]:
    """Why sentences are removed at the value in use (the reason's words before any detail)."""
    reasons: Counter[str] = Counter()
    for item in items:
        for claim in _checked(item, budget, MIN_OVERLAP):
            if not claim.supported:
                reasons[re.split(r"[:(]", claim.reason or "?")[0].strip()] += 1
    return dict(reasons.most_common())


def _checked(item: Generated, budget: int, min_overlap: float) -> list[Claim]:
    _context, used = fence_excerpts(item.citations, budget, item.question.question)
    return check_answer(AnswerPrompt().parse(item.draft).text, used, min_overlap,
                        question=item.question.question)


def selection_rows(items: list[tuple[GoldQuestion, list[Citation]]], budget: int
                   ) -> list[dict[str, Any]]:
    rows = []
    for value in SELECT_VALUES:
        above = value if value is not None else 10**9
        cut = excerpts = tokens = evidence = 0
        for q, citations in items:
            context, used = fence_excerpts(citations, budget, q.question, select_above=above)
            excerpts += len(used)
            cut += sum(select_sentences(c.excerpt, q.question, select_above=above) != c.excerpt
                       for c in used)
            tokens += count_tokens(context)
            evidence += any(norm(e) in norm(context) for t in q.targets for e in t.evidence)
        n = len(items) or 1
        rows.append({"select_above_tokens": value, "questions": len(items),
                     "excerpts_cut": cut, "excerpts_in_prompt": excerpts,
                     "mean_excerpt_tokens": round(tokens / n),
                     "evidence_in_prompt": evidence})
    return rows


def excerpt_rows(items: list[tuple[GoldQuestion, list[Citation]]], budget: int
                 ) -> list[dict[str, Any]]:
    rows = []
    for value in EXCERPT_VALUES:
        tokens = evidence = 0
        for q, citations in items:
            context, _used = fence_excerpts(citations[:value], budget, q.question)
            tokens += count_tokens(context)
            evidence += any(norm(e) in norm(context) for t in q.targets for e in t.evidence)
        rows.append({"excerpts": value, "questions": len(items),
                     "mean_excerpt_tokens": round(tokens / (len(items) or 1)),
                     "evidence_in_prompt": evidence})
    return rows


def _gold(path: Path) -> list[GoldQuestion]:
    """A gold file, or every one under a folder."""
    return load_gold(sorted(path.rglob("*.jsonl")) if path.is_dir() else [path])


def _run(path: Path) -> list[dict[str, Any]]:
    """An eval run's question records: its `--json` output or its `--progress` file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    records: list[dict[str, Any]] = json.loads(text)["questions"]
    return records


def main() -> int:
    gold = _gold(Path(sys.argv[1]))
    run = _run(Path(sys.argv[2])) if len(sys.argv) > 2 else None
    settings = Settings().model_copy(update={"llm_provider": "none"})
    chain: QAChain = ContractQA(settings).chain
    budget = settings.llm_context_tokens
    citations = {q.id: chain.retrieve(q.question, top_k=TOP_K).citations for q in gold}
    answerable = [(q, citations[q.id]) for q in gold if q.answerable and q.targets]
    # What the model reads: the extractive answer's citations (its sentences highlighted).
    shown = [(q, chain.answer(q.question, top_k=TOP_K, generate=False).citations or c)
             for q, c in answerable]
    report: dict[str, Any] = {"select_above_tokens_in_use": SELECT_ABOVE_TOKENS,
                              "select_above_tokens": selection_rows(answerable, budget),
                              "excerpts_in_use": settings.llm_excerpts,
                              "excerpts": excerpt_rows(shown, budget)}
    if run is not None:
        by_id = {q.id: q for q in gold}
        generated = [Generated(by_id[r["id"]], citations[r["id"]], r["draft"])
                     for r in run if r.get("draft")]
        report.update({"min_overlap_in_use": MIN_OVERLAP,
                       "min_overlap": overlap_rows(generated, budget),
                       "removed_at_value_in_use": removal_reasons(generated, budget)})
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
