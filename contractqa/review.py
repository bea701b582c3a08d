"""The review table ("tableau de revue"): many contracts × many questions, every cell cited.

Each cell is one question asked of one contract (`ContractQA.ask(question, documents=[id])`),
so no cell can quote another contract. A cell holds the sentence that answers (the quote),
where it is (its citation), the answer's confidence, or "Non prévu par le contrat" when no
clause answers. Checklist questions carry clues: words a clause answering them must use
("assurance", "assureur" for insurance; "responsabilit+limit" for a liability cap, both
words); when no passage found for a cell (with its article's headings) uses one, the contract
is taken to be silent on the point rather than quoting an unrelated sentence.

Cells are cached per (contract version, question, answer mode) by `review_storage.CellCache`;
with an LLM configured each cell also gets a one-line summary whose figures must all appear
in its quote (else the summary is dropped and the cell says why).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from ingest.aliases import fold, nfc
from ingest.lexical import tokenize
from retrieval.answer_type import ExpectedAnswer
from retrieval.extractive import sentences
from retrieval.models import Answer, Citation
from retrieval.support import missing_figures

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from contractqa.review_storage import CellCache
    from contractqa.service import ContractQA
    from ingest.store import DocumentRecord

log = logging.getLogger("contractqa.review")

# Part of every cell's cache key: bump it whenever how a cell is made changes.
REVIEW_VERSION = "1"
ABSENT = "Non prévu par le contrat"
MAX_QUESTIONS = 60
MAX_CELLS = 5000
Status = Literal["found", "absent", "error"]
# (question, quote) -> a one-line summary of the quote; only with an LLM configured.
Summarizer = Callable[[str, str], str]


# ---------------------------------------------------------------------------------------------
# Questions and checklists
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewQuestion:
    """One column of the table: a short label and the question asked of each contract."""

    id: str
    label: str
    question: str
    # Folded words or word starts of which a clause answering must use one (empty: no check).
    clues: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "question": self.question,
                "clues": list(self.clues)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReviewQuestion:
        return cls(str(data["id"]), str(data.get("label") or data["question"]),
                   str(data["question"]), tuple(str(c) for c in data.get("clues") or ()))


@dataclass(frozen=True)
class Checklist:
    """A named list of questions: shipped with the app, or saved by a user."""

    id: str
    title: str
    questions: tuple[ReviewQuestion, ...]
    description: str = ""
    builtin: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description,
                "builtin": self.builtin, "questions": [q.to_json() for q in self.questions]}

    @classmethod
    def from_json(cls, data: dict[str, Any], builtin: bool) -> Checklist:
        return cls(str(data["id"]), str(data["title"]),
                   tuple(ReviewQuestion.from_json(q) for q in data["questions"]),
                   str(data.get("description", "")), builtin)


def short_label(question: str, limit: int = 40) -> str:
    """A column label for a question typed by the user: its first words."""
    text = " ".join(question.split()).rstrip(" ?")
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + "…"


def custom_questions(texts: Sequence[str], taken: Sequence[str] = ()) -> list[ReviewQuestion]:
    """Questions typed by the user (one per entry, blanks skipped, duplicates once)."""
    seen = {normalise_question(t) for t in taken}
    out: list[ReviewQuestion] = []
    for text in texts:
        question = " ".join(nfc(text).split())
        key = normalise_question(question)
        if not question or key in seen:
            continue
        seen.add(key)
        out.append(ReviewQuestion(f"perso-{len(out) + 1}", short_label(question), question))
    return out


def normalise_question(question: str) -> str:
    """The question as the cache compares it: composed accents, one space, case folded."""
    return " ".join(nfc(question).split()).casefold()


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


@dataclass
class CellSource:
    """Where a cell's quote is: contract, article, heading, pages, and the whole excerpt."""

    document_id: str
    document_title: str
    section: str | None
    article: str | None
    heading: str | None
    pages: list[int]
    excerpt: str

    @classmethod
    def of(cls, c: Citation) -> CellSource:
        return cls(c.document_id, c.document_title, c.section, c.article, c.heading,
                   list(c.pages), c.excerpt)


@dataclass
class Cell:
    """One contract's answer to one question."""

    document_id: str
    question_id: str
    status: Status
    quote: str = ""
    source: CellSource | None = None
    confidence: float | None = None
    note: str = ""  # why the cell is absent or failed, in French
    summary: str | None = None  # with an LLM: one line whose figures are in the quote
    summary_note: str = ""  # why a summary was dropped
    cached: bool = False

    @property
    def text(self) -> str:
        """What the table shows: the quote, or "Non prévu par le contrat"."""
        if self.status == "found":
            return self.quote
        return ABSENT if self.status == "absent" else "Erreur : cellule non calculée"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        source = data.get("source")
        return cls(
            document_id=str(data["document_id"]), question_id=str(data["question_id"]),
            status=data["status"], quote=str(data.get("quote", "")),
            source=CellSource(**source) if source else None,
            confidence=data.get("confidence"), note=str(data.get("note", "")),
            summary=data.get("summary"), summary_note=str(data.get("summary_note", "")),
            cached=bool(data.get("cached", False)))


_QUOTED = re.compile(r"^- « (.+) » \[(\d+)\]$", re.MULTILINE)
_NUMBERING = re.compile(r"^(?:article|art\.?|annexe)?\s*[\w.]*\d[\w.]*\s*[:.)\-–—]?\s*",
                        re.IGNORECASE)


def quoted_sentences(answer: Answer) -> list[tuple[int, str]]:
    """The sentences an extractive answer quotes, in its order, with their citation number
    (read back from its text for an answer without its parts, e.g. a saved one)."""
    if answer.quotes:
        return [(q.citation, q.sentence) for q in answer.quotes]
    body = answer.answer.split("\nSources :")[0]
    return [(int(n), sentence) for sentence, n in ((m.group(1), m.group(2))
                                                   for m in _QUOTED.finditer(body))]


def is_heading(sentence: str, citation: Citation) -> bool:
    """A quote that only repeats its article's number and heading says nothing."""
    if not citation.heading:
        return False
    bare = _NUMBERING.sub("", sentence.strip()).rstrip(" .:")
    roman = re.sub(r"^[ivxlc]+\.?\s+", "", fold(bare))
    return fold(citation.heading).strip(" .:") in (fold(bare), roman)


@dataclass(frozen=True)
class Clues:
    """A question's clues: alternatives, each a word start or phrase, or several joined by
    "+" that must all appear ("responsabilit+limit": a liability clause that limits)."""

    alternatives: tuple[tuple[re.Pattern[str], ...], ...]

    @classmethod
    def of(cls, clues: Sequence[str]) -> Clues | None:
        if not clues:
            return None
        return cls(tuple(tuple(re.compile(r"(?<![a-z0-9])" + re.escape(part.strip()))
                               for part in clue.split("+") if part.strip())
                         for clue in clues))

    def held_by(self, text: str) -> bool:
        folded = _folded(text)
        return any(all(p.search(folded) for p in parts) for parts in self.alternatives)


@lru_cache(maxsize=4096)
def _folded(text: str) -> str:
    return fold(text)


def holds_clue(text: str, clues: Clues | None) -> bool:
    return clues is None or clues.held_by(text)


def _closeness(sentence: str, terms: set[str]) -> int:
    return len(terms & set(tokenize(sentence)))


# A citation's headings: its own, then those of the articles above it ("16" for "16.3").
Headings = Callable[[Citation], list[str]]


def outline_headings(outline: Sequence[dict[str, Any]]) -> Headings:
    """Headings looked up in a contract's outline (`ContractQA.outline`)."""
    table = {(item.get("section"), item.get("article")): item.get("heading") for item in outline}

    def headings(citation: Citation) -> list[str]:
        found = [citation.heading] if citation.heading else []
        article = citation.article or ""
        while "." in article:
            article = article.rsplit(".", 1)[0]
            parent = table.get((citation.section, article))
            if parent:
                found.append(str(parent))
        return found

    return headings


def _own_headings(citation: Citation) -> list[str]:
    return [citation.heading] if citation.heading else []


def pick_quote(answer: Answer, question: ReviewQuestion, document_id: str,
               headings: Headings = _own_headings) -> tuple[Citation, str] | None:
    """The sentence that answers, and its citation; None when no passage is on the topic.

    A sentence is on the topic when it and its article's headings use one of the question's
    clues (any sentence, for a question without clues). First the answer's own quotes
    (headings skipped), the first holding a value of the kind asked ("combien de temps": a
    duration) before the others; else, in the citations' rank order, the sentence on the topic
    that shares most words with the question.
    """
    own = [c for c in answer.citations if c.document_id == document_id]
    by_n = {c.n: c for c in own}
    clues = Clues.of(question.clues)
    expected = ExpectedAnswer.of(question.question)

    def on_topic(citation: Citation, sentence: str) -> bool:
        return holds_clue(" ".join([*headings(citation), sentence]), clues)

    quoted = [(by_n[n], s) for n, s in quoted_sentences(answer)
              if n in by_n and not is_heading(s, by_n[n])]
    kept = [(c, s) for c, s in quoted if on_topic(c, s)]
    if kept:
        return next(((c, s) for c, s in kept if expected.value_in(s)), kept[0])
    terms = set(tokenize(question.question))
    for citation in own:
        found = [s for s in sentences(citation.excerpt)
                 if not is_heading(s, citation) and on_topic(citation, s)]
        if found:
            return citation, max(found, key=lambda s: (expected.value_in(s),
                                                       _closeness(s, terms)))
    if clues is not None or not own:
        return None
    first = own[0]
    return first, first.highlight or (sentences(first.excerpt) or [first.excerpt])[0]


def make_cell(answer: Answer, document_id: str, question: ReviewQuestion,
              headings: Headings = _own_headings) -> Cell:
    """The cell for one contract's answer to one question (no cache, no summary)."""
    confidence = answer.confidence
    if answer.abstained:
        return Cell(document_id, question.id, "absent", confidence=confidence,
                    note="Aucune clause ne répond assez précisément à la question.")
    picked = pick_quote(answer, question, document_id, headings)
    if picked is None:
        note = (f"Les passages les plus proches de ce contrat ne traitent pas de "
                f"« {question.label} »." if question.clues
                else "Aucun passage de ce contrat n'a été trouvé.")
        return Cell(document_id, question.id, "absent", confidence=confidence, note=note)
    citation, sentence = picked
    return Cell(document_id, question.id, "found", quote=" ".join(sentence.split()),
                source=CellSource.of(citation), confidence=confidence)


# ---------------------------------------------------------------------------------------------
# One-line summaries (LLM configured)
# ---------------------------------------------------------------------------------------------

SUMMARY_PROMPT = (
    "Tu remplis un tableau de revue de contrats pour un avocat. À partir de l'extrait cité, "
    "réponds à la question en une seule ligne de moins de 25 mots, en français, sans "
    "ajouter de chiffre, de montant ni de durée qui ne figure pas dans l'extrait."
)


def llm_summarizer(llm: BaseChatModel) -> Summarizer:
    """A summarizer that asks the configured chat model for one line."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([
        ("system", SUMMARY_PROMPT),
        ("human", "Question : {question}\n\nExtrait : « {quote} »\n\nRéponse en une ligne :"),
    ])
    chain = prompt | llm | StrOutputParser()

    def summarize(question: str, quote: str) -> str:
        return str(chain.invoke({"question": question, "quote": quote}))

    return summarize


def checked_summary(summary: str, quote: str) -> tuple[str | None, str]:
    """The summary's first line if each of its figures is in the quote, else (None, why)."""
    line = next((ln.strip() for ln in summary.splitlines() if ln.strip()), "")
    if not line:
        return None, "Résumé vide : seule la citation est donnée."
    missing = missing_figures(line, quote)
    if missing:
        return None, ("Résumé retiré : chiffre absent de la citation ("
                      + ", ".join(sorted(missing)) + ").")
    return line, ""


def summarise_cell(cell: Cell, question: ReviewQuestion, summarizer: Summarizer) -> None:
    """Add a checked one-line summary to a found cell (a model failure only adds a note)."""
    if cell.status != "found":
        return
    try:
        raw = summarizer(question.question, cell.quote)
    except Exception as exc:  # noqa: BLE001 - any model failure: the quote alone is shown
        log.warning("summary failed: %r", exc)
        cell.summary_note = "Le modèle n'a pas répondu : seule la citation est donnée."
        return
    cell.summary, cell.summary_note = checked_summary(raw, cell.quote)


# ---------------------------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewDocument:
    document_id: str
    title: str
    content_hash: str = ""


@dataclass
class Review:
    """A finished table: its contracts (rows), questions (columns) and every cell."""

    id: str
    title: str
    documents: list[ReviewDocument]
    questions: list[ReviewQuestion]
    cells: list[Cell]
    checklist: str | None = None
    mode: str = "extractive"
    created_at: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    seconds: float = 0.0

    def cell(self, document_id: str, question_id: str) -> Cell | None:
        return next((c for c in self.cells
                     if c.document_id == document_id and c.question_id == question_id), None)

    def question(self, question_id: str) -> ReviewQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def document(self, document_id: str) -> ReviewDocument | None:
        return next((d for d in self.documents if d.document_id == document_id), None)

    @property
    def cached_cells(self) -> int:
        return sum(c.cached for c in self.cells)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.cells) for s in ("found", "absent", "error")}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "checklist": self.checklist, "mode": self.mode,
            "created_at": self.created_at, "seconds": self.seconds,
            "cached_cells": self.cached_cells, "counts": self.counts(),
            "documents": [asdict(d) for d in self.documents],
            "questions": [q.to_json() for q in self.questions],
            "cells": [c.to_json() for c in self.cells],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Review:
        return cls(
            id=str(data["id"]), title=str(data["title"]),
            documents=[ReviewDocument(**d) for d in data["documents"]],
            questions=[ReviewQuestion.from_json(q) for q in data["questions"]],
            cells=[Cell.from_json(c) for c in data["cells"]],
            checklist=data.get("checklist"), mode=str(data.get("mode", "extractive")),
            created_at=str(data.get("created_at", "")), seconds=float(data.get("seconds", 0)))


class ReviewCancelled(Exception):
    """The review was stopped before its last cell (the client went away)."""


class ReviewTooLarge(ValueError):
    """More questions or cells than one review allows."""


# done, total, the cell just made
ReviewProgress = Callable[[int, int, Cell], None]


def new_review_id() -> str:
    return uuid.uuid4().hex[:12]


def answer_mode(service: ContractQA) -> str:
    """What the cache keys cells by: extractive, or the LLM that writes the summaries."""
    chain = service.chain
    return f"llm:{chain.model_name or 'modele'}" if chain.llm is not None else "extractive"


def settings_key(service: ContractQA) -> str:
    """The settings a cell depends on, besides its contract and question."""
    s = service.settings
    return f"{REVIEW_VERSION}|{s.embeddings}|{s.reranker}|{s.top_k}|{s.abstain_threshold}"


def check_size(documents: int, questions: int) -> None:
    if questions < 1:
        raise ReviewTooLarge("Aucune question : choisissez une liste ou saisissez des questions.")
    if questions > MAX_QUESTIONS:
        raise ReviewTooLarge(f"{questions} questions : {MAX_QUESTIONS} au plus par revue. "
                             "Répartissez-les sur plusieurs revues.")
    if documents < 1:
        raise ReviewTooLarge("Aucun contrat indexé : ajoutez des contrats avant la revue.")
    if documents * questions > MAX_CELLS:
        raise ReviewTooLarge(f"{documents} contrats × {questions} questions dépasse "
                             f"{MAX_CELLS} cellules : choisissez moins de contrats.")


@dataclass
class ReviewRunner:
    """Fill a review cell by cell: from the cache when it can, else by asking the contract."""

    service: ContractQA
    cache: CellCache | None = None
    summarizer: Summarizer | None = None
    refresh: bool = False  # recompute cells even when cached

    def cell(self, record: DocumentRecord, question: ReviewQuestion, mode: str,
             headings: Headings = _own_headings, pending: list[tuple[str, Cell]] | None = None
             ) -> Cell:
        """One cell: from the cache, else asked and stored (into `pending` when given, for
        the caller to store with the rest of the row)."""
        key = None
        if self.cache is not None:
            key = self.cache.key(record.document_id, record.content_hash,
                                 record.pipeline_version, settings_key(self.service),
                                 question, mode)
            hit = None if self.refresh else self.cache.get(key)
            if hit is not None:
                hit.document_id, hit.question_id, hit.cached = (record.document_id, question.id,
                                                                True)
                return hit
        try:
            answer = self.service.ask(question.question, documents=[record.document_id],
                                      generate=False)
        except Exception:
            log.exception("review cell %s / %s failed", record.document_id, question.id)
            return Cell(record.document_id, question.id, "error",
                        note="Erreur interne : relancez la revue ; si elle persiste, "
                             "consultez les journaux du serveur.")
        cell = make_cell(answer, record.document_id, question, headings)
        if self.summarizer is not None:
            summarise_cell(cell, question, self.summarizer)
        if self.cache is not None and key is not None:
            if pending is None:
                self.cache.put(key, cell)
            else:
                pending.append((key, cell))
        return cell

    def headings(self, document_id: str) -> Headings:
        try:
            return outline_headings(self.service.outline(document_id))
        except KeyError:
            return _own_headings

    def run(self, questions: Sequence[ReviewQuestion], records: Sequence[DocumentRecord],
            title: str, checklist: str | None = None, progress: ReviewProgress | None = None,
            stop: threading.Event | None = None) -> Review:
        check_size(len(records), len(questions))
        started = time.perf_counter()
        mode = answer_mode(self.service)
        total = len(records) * len(questions)
        cells: list[Cell] = []
        for record in records:
            headings = self.headings(record.document_id)
            pending: list[tuple[str, Cell]] = []
            try:
                for question in questions:
                    if stop is not None and stop.is_set():
                        raise ReviewCancelled()
                    cell = self.cell(record, question, mode, headings, pending)
                    cells.append(cell)
                    if progress is not None:
                        progress(len(cells), total, cell)
            finally:
                if self.cache is not None:
                    self.cache.put_many(pending)  # what was computed stays, even if stopped
        documents = [ReviewDocument(r.document_id, r.title, r.content_hash) for r in records]
        return Review(new_review_id(), title, documents, list(questions), cells,
                      checklist=checklist, mode=mode,
                      seconds=round(time.perf_counter() - started, 2))
