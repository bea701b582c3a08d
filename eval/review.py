"""Per-cell accuracy of the review table against the gold questions (`contractqa eval --review`).

`eval/review_map.toml` maps gold questions to the checklist question that asks the same thing
of every contract. Each mapped cell (the gold question's contract, that checklist question) is
computed as the review computes it, from a fresh index of every corpus (no cached cell), in
extractive mode, and scored:

- a cell whose gold questions have an answer is right when it quotes a clause and its
  citation holds the evidence of one of them, under the right article label (as the eval's
  citation accuracy); "quote" also asks that the quoted sentence overlap that evidence;
- a cell whose gold questions are unanswerable is right when it says "Non prévu par le
  contrat".

The baseline, from the same answers: the plain answer's first quote (what `contractqa ask`
shows first, the question restricted to the contract), refused only when the answer is.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contractqa.review import (
    ABSENT,
    Cell,
    CellSource,
    ReviewQuestion,
    ReviewRunner,
    make_cell,
    quoted_sentences,
)
from contractqa.settings import Settings
from eval.metrics import CORPORA, GoldQuestion, gold_paths, load_gold, norm, norm_article
from eval.numbers import fmt
from retrieval.models import Answer

MAP_FILE = Path(__file__).resolve().parent / "review_map.toml"
MAPPED_TYPES = ("factual", "unanswerable")


@dataclass(frozen=True)
class MappedCell:
    """One cell of the table and the gold questions it is scored against."""

    document: str
    checklist: str
    question: ReviewQuestion
    gold: tuple[GoldQuestion, ...]

    @property
    def answerable(self) -> bool:
        return any(g.answerable for g in self.gold)


@dataclass
class CellScore:
    cell: MappedCell
    status: str
    article: str | None
    quote: str
    citation_ok: bool
    quote_ok: bool

    @property
    def correct(self) -> bool:
        return self.citation_ok if self.cell.answerable else self.status == "absent"

    def to_json(self) -> dict[str, Any]:
        return {"document": self.cell.document, "checklist": self.cell.checklist,
                "question": self.cell.question.id, "gold": [g.id for g in self.cell.gold],
                "answerable": self.cell.answerable, "status": self.status,
                "article": self.article, "quote": self.quote[:200],
                "citation_ok": self.citation_ok, "quote_ok": self.quote_ok,
                "correct": self.correct}


def load_map(path: Path = MAP_FILE) -> dict[str, dict[str, list[str]]]:
    with path.open("rb") as fh:
        data: dict[str, dict[str, list[str]]] = tomllib.load(fh)
    return data


def mapped_cells(questions: dict[str, ReviewQuestion], mapping: dict[str, dict[str, list[str]]],
                 gold: list[GoldQuestion]) -> list[MappedCell]:
    """The cells the mapping scores; `questions` is keyed "checklist/question id"."""
    by_id = {g.id: g for g in gold}
    grouped: dict[tuple[str, str, str], list[GoldQuestion]] = defaultdict(list)
    for checklist, columns in mapping.items():
        for question_id, gold_ids in columns.items():
            if f"{checklist}/{question_id}" not in questions:
                raise ValueError(f"{MAP_FILE.name}: unknown question {checklist}/{question_id}")
            for gold_id in gold_ids:
                g = by_id.get(gold_id)
                if g is None:
                    raise ValueError(f"{MAP_FILE.name}: unknown gold question {gold_id}")
                if g.type not in MAPPED_TYPES or not g.document:
                    raise ValueError(f"{MAP_FILE.name}: {gold_id} is {g.type}; only factual "
                                     "and unanswerable questions naming one contract map")
                grouped[(g.document, checklist, question_id)].append(g)
    cells = []
    for (document, checklist, question_id), golds in grouped.items():
        if len({g.answerable for g in golds}) > 1:
            raise ValueError(f"{MAP_FILE.name}: cell {document} {question_id} mixes answerable "
                             "and unanswerable gold questions")
        cells.append(MappedCell(document, checklist, questions[f"{checklist}/{question_id}"],
                                tuple(golds)))
    return cells


def _article_ok(article: str | None, wanted: tuple[str, ...]) -> bool:
    got = norm_article(article)
    return not wanted or any(got == norm_article(a) or got.startswith(norm_article(a) + ".")
                             for a in wanted)


def score_cell(mapped: MappedCell, cell: Cell) -> CellScore:
    """Whether the cell's citation (and its quote) hold one gold question's evidence."""
    source = cell.source
    citation_ok = quote_ok = False
    if cell.status == "found" and source is not None and source.document_id == mapped.document:
        excerpt, quote = norm(source.excerpt), norm(cell.quote)
        for g in mapped.gold:
            for target in g.targets:
                if target.document != mapped.document:
                    continue
                held = [norm(e) for e in target.evidence if norm(e) in excerpt]
                if held and _article_ok(source.article, target.articles):
                    citation_ok = True
                    quote_ok = quote_ok or any(e in quote or quote in e for e in held)
    return CellScore(mapped, cell.status, source.article if source else None, cell.quote,
                     citation_ok, quote_ok)


def _share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarise(scores: list[CellScore]) -> dict[str, Any]:
    answerable = [s for s in scores if s.cell.answerable]
    silent = [s for s in scores if not s.cell.answerable]
    return {
        "cells": len(scores), "answerable_cells": len(answerable),
        "silent_cells": len(silent),
        "cell_accuracy": _share([s.correct for s in scores]),
        "citation_accuracy": _share([s.citation_ok for s in answerable]),
        "quote_accuracy": _share([s.quote_ok for s in answerable]),
        "false_absent_rate": _share([s.status == "absent" for s in answerable]),
        "absent_accuracy": _share([s.status == "absent" for s in silent]),
    }


def plain_cell(answer: Answer, document_id: str, question_id: str) -> Cell:
    """The baseline cell: the answer's first quote, absent only when the answer abstains."""
    by_n = {c.n: c for c in answer.citations}
    quoted = [(by_n[n], s) for n, s in quoted_sentences(answer) if n in by_n]
    if answer.abstained or not quoted:
        return Cell(document_id, question_id, "absent")
    citation, sentence = quoted[0]
    return Cell(document_id, question_id, "found", quote=sentence,
                source=CellSource.of(citation))


@dataclass
class ReviewEval:
    scores: list[CellScore]
    baseline: list[CellScore]
    seconds: float


def evaluate_review(settings: Settings, data_dir: Path) -> ReviewEval:
    """Index every corpus into `data_dir`, compute each mapped cell (no cache), score it."""
    from contractqa.service import ContractQA

    local = settings.model_copy(update={"data_dir": data_dir, "chroma_url": None,
                                        "llm_provider": "none"})
    service = ContractQA(local)
    report = service.ingest(list(CORPORA.values()))
    for r in report.results:
        if r.status == "error":
            print(f"ingest error: {r.path}: {r.message}", file=sys.stderr)
    questions = {f"{c.id}/{q.id}": q for c in service.checklists.builtin() for q in c.questions}
    cells = mapped_cells(questions, load_map(), load_gold(gold_paths(None)))
    known = {r.document_id for r in service.documents()}
    runner = ReviewRunner(service, cache=None)
    started = time.perf_counter()
    result = ReviewEval([], [], 0.0)
    for mapped in sorted(cells, key=lambda c: (c.checklist, c.question.id, c.document)):
        if mapped.document not in known:
            missing = Cell(mapped.document, mapped.question.id, "error")
            result.scores.append(score_cell(mapped, missing))
            result.baseline.append(score_cell(mapped, missing))
            continue
        answer = service.ask(mapped.question.question, documents=[mapped.document],
                             generate=False)
        headings = runner.headings(mapped.document)
        result.scores.append(score_cell(mapped, make_cell(answer, mapped.document,
                                                          mapped.question, headings)))
        result.baseline.append(score_cell(mapped, plain_cell(answer, mapped.document,
                                                             mapped.question.id)))
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def breakdown_table(scores: list[CellScore]) -> str:
    """One row per checklist question, then the overall row."""
    lines = ["| checklist question | cells | right | citation ok | quote ok "
             "| Non prévu when silent |", "|---|---|---|---|---|---|"]
    groups: dict[str, list[CellScore]] = defaultdict(list)
    for s in scores:
        groups[f"{s.cell.checklist}/{s.cell.question.id}"].append(s)
    for name, rows in [*groups.items(), ("overall", scores)]:
        m = summarise(rows)
        lines.append(f"| {name} | {m['cells']} | {fmt(m['cell_accuracy'])} | "
                     f"{fmt(m['citation_accuracy'])} | {fmt(m['quote_accuracy'])} | "
                     f"{fmt(m['absent_accuracy'])} |")
    return "\n".join(lines)


def main(as_json: bool, settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="contractqa-review-eval-") as tmp:
        result = evaluate_review(settings, Path(tmp))
    scores = result.scores
    metrics, baseline = summarise(scores), summarise(result.baseline)
    if as_json:
        print(json.dumps({"mode": "extractive", "metrics": metrics, "baseline": baseline,
                          "seconds": result.seconds,
                          "cells": [s.to_json() for s in scores]},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"Review table, per-cell accuracy (extractive, {len(scores)} cells mapped to gold "
          f"questions in {MAP_FILE.name}, {result.seconds} s):\n")
    print(breakdown_table(scores))
    print(f"\nBaseline (the plain answer's first quote): cell accuracy "
          f"{fmt(baseline['cell_accuracy'])}, citation {fmt(baseline['citation_accuracy'])}, "
          f"quote {fmt(baseline['quote_accuracy'])}, Non prévu when silent "
          f"{fmt(baseline['absent_accuracy'])}.")
    wrong = [s for s in scores if not s.correct]
    print(f"\n{len(wrong)} wrong cells:")
    for s in wrong:
        shown = ABSENT if s.status == "absent" else f"art. {s.article}: {s.quote[:90]}"
        print(f"  {s.cell.document} {s.cell.checklist}/{s.cell.question.id} "
              f"({', '.join(g.id for g in s.cell.gold)}): {shown}")
    return 0
