"""Gold questions, per-question scoring and aggregate metrics (retrieval, citations, abstention)."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.numbers import percentile
from retrieval.models import Answer, Citation
from retrieval.prompts import MARKER

ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "eval" / "gold"
SAMPLE_DIR = ROOT / "data" / "contracts"
EXTRA_DIR = ROOT / "data" / "extra-contracts"
SYNTHETIC_DIR = ROOT / "data" / "synthetic-contracts"
# Real public contracts as lawyers receive them (PDF, DOCX), collected for a measurement nobody
# tuned on; their files are not in this repository (see eval/gold/pool/SOURCES.md): the eval
# reads them from CONTRACTQA_POOL_DIR, else data/pool-contracts, else the steering repository's
# ../shared/pool-contracts (where the samples come from), the first that exists; `make test`
# then gates the pool with the other corpora.
POOL_DIR = Path(os.environ.get("CONTRACTQA_POOL_DIR") or next(
    (d for d in (ROOT / "data" / "pool-contracts", ROOT.parent / "shared" / "pool-contracts")
     if d.is_dir()), ROOT / "data" / "pool-contracts"))
POOL_GOLD_DIR = GOLD_DIR / "pool"
# The corpora the eval indexes and reports apart: the five samples, three more real contracts,
# synthetic contracts written in article conventions the real ones do not use, and the pool.
CORPORA = {"sample": SAMPLE_DIR, "extra": EXTRA_DIR, "synthetic": SYNTHETIC_DIR}
if POOL_DIR.is_dir():
    CORPORA["pool"] = POOL_DIR
CONTRACT_SUFFIXES = (".txt", ".md", ".pdf", ".docx")
KS = (1, 3, 5, 10)
# Gold files whose name holds this were written by people who had not seen the retrieval code:
# their figures are the estimate for unseen contracts, reported apart as origin "blind".
BLIND_MARK = "heldout"
TYPES = ("factual", "lookup", "definition", "comparison", "multihop", "unanswerable")


def norm(text: str) -> str:
    """Whitespace-collapsed, lower-cased text, ligatures unfolded (NFKC: the gold copies "ﬁ"
    from a PDF whose indexed text may read "fi"), as in eval/gold/check_gold.py."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")  # NFKC: nbsp -> " "
    return re.sub(r"\s+", " ", text).strip().lower()


def norm_article(label: str | None) -> str:
    return (label or "").strip().rstrip(".").strip().lower()


@dataclass(frozen=True)
class Target:
    """One place the answer lives: a document, its section and articles, verbatim quotes."""

    document: str
    section: str | None
    articles: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    type: str
    question: str
    corpus: str  # a key of CORPORA
    targets: tuple[Target, ...]
    answer_contains: tuple[str, ...]
    document: str | None = None
    blind: bool = False  # written without sight of the retrieval code (see BLIND_MARK)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def corpus_of(document: str | None, dataset: Path) -> str:
    """The corpus whose folder holds the document (questions naming none: by the file name)."""
    for corpus, folder in CORPORA.items():
        if document and _file_in(folder, document):
            return corpus
    return "extra" if dataset.stem == "extra" else "sample"


def _file_in(folder: Path, document: str) -> Path | None:
    return next((p for suffix in CONTRACT_SUFFIXES
                 if (p := folder / f"{document}{suffix}").exists()), None)


def document_path(document: str) -> Path | None:
    """The contract file of a document id (its file name without extension), in any corpus."""
    for folder in CORPORA.values():
        if path := _file_in(folder, document):
            return path
    return None


def load_gold(paths: list[Path]) -> list[GoldQuestion]:
    questions: list[GoldQuestion] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            q = json.loads(line)
            raw = q["targets"] or ([q] if q["document"] and q["evidence"] else [])
            targets = tuple(
                Target(t["document"], t["section"], tuple(t["articles"]), tuple(t["evidence"]))
                for t in raw)
            first_doc = targets[0].document if targets else q["document"]
            questions.append(GoldQuestion(
                q["id"], q["type"], q["question"], corpus_of(first_doc, path), targets,
                tuple(q["answer_contains"]), q["document"],
                BLIND_MARK in path.stem))
    return questions


def gold_paths(datasets: list[str] | None) -> list[Path]:
    if datasets:
        return [Path(d) for d in datasets]
    pool = sorted(POOL_GOLD_DIR.glob("*.jsonl")) if "pool" in CORPORA else []
    return sorted(GOLD_DIR.glob("*.jsonl")) + pool


@dataclass
class Cited:
    document: str
    section: str | None
    article: str | None
    excerpt: str  # first 120 characters


@dataclass
class QuestionRecord:
    """How one question went: ranks, citation, facts, abstention, latency."""

    id: str
    type: str
    corpus: str
    question: str
    hit_rank: int | None
    hits: dict[str, bool]
    target_coverage: float | None
    citation_ok: bool | None
    facts_found: float | None
    abstained: bool
    expected_abstain: bool
    latency_ms: float
    mode: str
    documents_covered: float | None
    cited: list[Cited]
    expected: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    confidence: float | None = None  # what abstention was decided on (Answer.confidence)
    blind: bool = False  # from a gold file written blind to the retrieval code
    # The answer quotes a contract other than the one the question names (None: it names none,
    # compares contracts, or was refused).
    other_contract: bool | None = None
    # Generated answers: sentences removed for want of support, prompt tokens the model read.
    unsupported: int = 0
    prompt_tokens: int | None = None
    # LLM mode: the judge's P(« oui ») before answering, and where it was read from.
    judge_probability: float | None = None
    judge_source: str | None = None
    # LLM mode: the verifier's P(« oui ») after answering (the cited passages establish it).
    verify_probability: float | None = None
    draft: str | None = None  # the model's raw output, before the support check

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("hits", "cited")}
        data.update({f"hit@{k}": v for k, v in self.hits.items()})
        data["cited"] = [c.__dict__ for c in self.cited]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuestionRecord:
        """The record `to_json` wrote (a progress file's line)."""
        fields = {k: v for k, v in data.items() if not k.startswith("hit@") and k != "cited"}
        hits = {k.removeprefix("hit@"): bool(v) for k, v in data.items() if k.startswith("hit@")}
        return cls(**fields, hits=hits, cited=[Cited(**c) for c in data.get("cited", [])])


def _holds(citation: Citation, target: Target) -> bool:
    text = norm(citation.excerpt)
    return any(norm(e) in text for e in target.evidence)


def _article_ok(citation: Citation, target: Target) -> bool:
    if citation.document_id != target.document:
        return False
    if not target.articles:
        return True
    got = norm_article(citation.article)
    return any(got == norm_article(a) or got.startswith(norm_article(a) + ".")
               for a in target.articles)


def score(q: GoldQuestion, answer: Answer, latency_ms: float) -> QuestionRecord:
    """Score one answer against its gold question (only the top 10 citations count)."""
    cites = answer.citations[:10]
    hit_rank: int | None = None
    citation_ok: bool | None = None
    covered: set[int] = set()
    for rank, c in enumerate(cites, start=1):
        held = [i for i, t in enumerate(q.targets) if _holds(c, t)]
        covered.update(held)
        if held and hit_rank is None:
            hit_rank = rank
            citation_ok = any(_article_ok(c, q.targets[i]) for i in held)
    answerable = q.answerable and bool(q.targets)
    if answerable and citation_ok is None:
        citation_ok = False
    text = norm(answer.answer)
    facts = (sum(norm(f) in text for f in q.answer_contains) / len(q.answer_contains)
             if q.answer_contains else None)
    docs_covered = None
    if q.type == "comparison" and q.targets:
        wanted = {t.document for t in q.targets}
        docs_covered = len(wanted & {c.document_id for c in cites}) / len(wanted)
    hits = {str(k): hit_rank is not None and hit_rank <= k for k in KS}
    first = q.targets[0] if q.targets else None
    record = QuestionRecord(
        q.id, q.type, q.corpus, q.question, hit_rank, hits,
        len(covered) / len(q.targets) if answerable else None,
        citation_ok if answerable else None, facts, answer.abstained, not q.answerable,
        round(latency_ms, 1), answer.mode, docs_covered,
        [Cited(c.document_id, c.section, c.article, c.excerpt[:120]) for c in cites[:3]],
        {"document": first.document if first else q.document,
         "section": first.section if first else None,
         "articles": list(first.articles) if first else [],
         "evidence": first.evidence[0] if first and first.evidence else ""})
    record.confidence = answer.confidence
    record.blind = q.blind
    record.other_contract = _quotes_other_contract(q, answer)
    record.unsupported = len(answer.unsupported)
    record.prompt_tokens = answer.prompt_tokens
    record.draft = answer.draft
    if answer.judge is not None:
        record.judge_probability = answer.judge.probability
        record.judge_source = answer.judge.source
    if answer.verification is not None:
        record.verify_probability = answer.verification.probability
    record.failures = _failures(record, answerable)
    return record


def _quotes_other_contract(q: GoldQuestion, answer: Answer) -> bool | None:
    """Whether an answer to a question naming one contract quotes another: the citations its
    text refers to by marker (all its citations when it has no marker)."""
    if not q.document or q.type in ("comparison", "multihop") or answer.abstained:
        return None
    body = answer.body or answer.answer.split("Sources :")[0]
    referred = {int(n) for n in MARKER.findall(body)}
    quoted = [c for c in answer.citations if c.n in referred] or answer.citations
    return any(c.document_id != q.document for c in quoted)


def _failures(r: QuestionRecord, answerable: bool) -> list[str]:
    if r.expected_abstain:
        return ([] if r.abstained else ["not abstained"]) + (
            ["quotes another contract"] if r.other_contract else [])
    out: list[str] = []
    if answerable and not r.hits["5"]:
        out.append("no hit@5" if r.hit_rank is None else f"hit at rank {r.hit_rank}")
    if answerable and r.hits["5"] and not r.citation_ok:
        out.append("wrong citation label")
    if r.abstained:
        out.append("false refusal")
    if r.other_contract:
        out.append("quotes another contract")
    return out


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _pct(values: list[float], p: float) -> float | None:
    value = percentile(values, p)
    return None if value is None else round(value, 1)


def aggregate(records: list[QuestionRecord]) -> dict[str, Any]:
    """Metrics over a set of records (answerable ones for retrieval, all for abstention)."""
    ans = [r for r in records if not r.expected_abstain and r.target_coverage is not None]
    una = [r for r in records if r.expected_abstain]
    out: dict[str, Any] = {"questions": len(records), "answerable": len(ans),
                           "unanswerable": len(una)}
    for k in KS:
        out[f"hit@{k}"] = _mean([float(r.hits[str(k)]) for r in ans])
    out["mrr@10"] = _mean([1.0 / r.hit_rank if r.hit_rank else 0.0 for r in ans])
    out["target_coverage"] = _mean([r.target_coverage or 0.0 for r in ans])
    out["citation_accuracy"] = _mean([float(bool(r.citation_ok)) for r in ans])
    out["facts_found"] = _mean([r.facts_found for r in records if r.facts_found is not None])
    abstained = [r for r in records if r.abstained]
    true_abst = sum(1 for r in una if r.abstained)
    out["abstention_precision"] = round(true_abst / len(abstained), 4) if abstained else None
    out["abstention_recall"] = round(true_abst / len(una), 4) if una else None
    answerable_all = [r for r in records if not r.expected_abstain]
    out["false_refusal_rate"] = _mean([float(r.abstained) for r in answerable_all])
    out["other_contract_rate"] = _mean([float(r.other_contract) for r in records
                                        if r.other_contract is not None])
    out["documents_covered"] = _mean([r.documents_covered for r in records
                                      if r.documents_covered is not None])
    latencies = [r.latency_ms for r in records]
    out["latency_p50_ms"] = _pct(latencies, 0.5)
    out["latency_p95_ms"] = _pct(latencies, 0.95)
    generated = [r for r in records if r.mode != "extractive"]
    if generated:  # an LLM is configured: share of generated answers whose citations held
        out["citation_validity"] = _mean([float(r.mode == "llm") for r in generated])
        out["answered_by_model"] = _mean([float(r.mode == "llm") for r in records])
        out["unsupported_answers"] = _mean([float(r.unsupported > 0) for r in generated])
        out["unsupported_sentences"] = sum(r.unsupported for r in generated)
        tokens = [float(r.prompt_tokens) for r in generated if r.prompt_tokens]
        out["prompt_tokens_mean"] = _mean(tokens)
        out["prompt_tokens_p95"] = _pct(tokens, 0.95)
    return out


def breakdown(records: list[QuestionRecord]) -> dict[str, Any]:
    """Overall, per question type, per corpus, and per origin (tuned or blind questions)."""
    types = [t for t in TYPES if any(r.type == t for r in records)]
    corpora = [c for c in CORPORA if any(r.corpus == c for r in records)]
    origins = {"tuned": [r for r in records if not r.blind],
               "blind": [r for r in records if r.blind]}
    return {
        "overall": aggregate(records),
        "by_type": {t: aggregate([r for r in records if r.type == t]) for t in types},
        "by_corpus": {c: aggregate([r for r in records if r.corpus == c]) for c in corpora},
        "by_origin": {o: aggregate(rs) for o, rs in origins.items() if rs},
    }


def check_gate(metrics: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """Threshold misses, per corpus or origin, or over every question ("overall"):
    {"sample": {"hit@5": {"min": 0.8}, ...}, ...}."""
    missed: list[str] = []
    for corpus, rules in thresholds.items():
        got = (metrics["overall"] if corpus == "overall"
               else metrics["by_corpus"].get(corpus) or metrics.get("by_origin", {}).get(corpus))
        if not got:
            continue
        for metric, bound in rules.items():
            value = got.get(metric)
            if value is None:
                continue
            if "min" in bound and value < bound["min"]:
                missed.append(f"{corpus} {metric} = {value} < min {bound['min']}")
            if "max" in bound and value > bound["max"]:
                missed.append(f"{corpus} {metric} = {value} > max {bound['max']}")
    return missed
