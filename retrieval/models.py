"""Typed answers and citations, shared by the CLI, the web app, the API and the eval."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["extractive", "llm", "llm-fallback"]
# Where the judge's probability comes from: the token logprobs, the word alone (a provider
# without logprobs: 1.0 for "oui", 0.0 for "non"), nothing readable, or a failed call.
JudgeSource = Literal["logprobs", "word", "unreadable", "error"]


@dataclass(frozen=True)
class Judgement:
    """The model's yes/no on whether the top excerpts answer the question, before answering
    (the judge), or on whether the passages an answer cites establish it (the verifier)."""

    probability: float | None  # P("oui"); None when neither logprobs nor the word were read
    source: JudgeSource
    word: str | None = None  # "oui", "non", or None
    threshold: float | None = None  # the chain abstains below it

    @property
    def abstains(self) -> bool:
        return (self.probability is not None and self.threshold is not None
                and self.probability < self.threshold)

    def to_json(self) -> dict[str, Any]:
        return {"probability": self.probability, "source": self.source, "word": self.word,
                "threshold": self.threshold, "abstained": self.abstains}


@dataclass
class Citation:
    """One numbered source: an article excerpt in the contract's own words."""

    n: int
    document_id: str
    document_title: str
    section: str | None
    article: str | None
    heading: str | None
    pages: list[int]
    excerpt: str
    score: float
    highlight: str = ""  # the sentence of the excerpt that supports the answer
    chunk_id: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("chunk_id")
        return data


@dataclass(frozen=True)
class Quote:
    """A sentence an answer quotes, in the contract's own words, and the citation it is from;
    in a comparison, one per contract (a row of the table)."""

    citation: int
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Turn:
    """A previous exchange of a conversation (for follow-up questions)."""

    question: str
    answer: str = ""
    documents: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """The answer to one question, with its citations in rank order."""

    question: str
    answer: str
    abstained: bool
    mode: Mode
    citations: list[Citation]
    id: str | None = None
    model: str | None = None
    routed: list[str] = field(default_factory=list)  # document ids the question named
    notice: str | None = None  # e.g. why an LLM answer fell back to extraction
    # What abstention is decided on (0 to 1), for searched answers; None for article lookups,
    # comparisons and definitions, which are not thresholded.
    confidence: float | None = None
    # Generated answers: sentences removed for want of support in the excerpt they cite
    # ({"sentence", "markers", "reason"}), the model's verdict line ("answered", "not_found",
    # None when it wrote none) and the prompt tokens the model read.
    unsupported: list[dict[str, object]] = field(default_factory=list)
    # Generated sentences whose marker pointed at an excerpt that did not hold them, now citing
    # the one that does ({"sentence", "markers", "cited_by_model"}).
    reattributed: list[dict[str, object]] = field(default_factory=list)
    verdict: str | None = None
    prompt_tokens: int | None = None
    # The answer as parts, for renderers: its text without the list of sources that ends
    # `answer`, and the sentences it quotes (a generated answer: each claim's sentence in its
    # excerpt, shown under it).
    body: str = ""
    quotes: list[Quote] = field(default_factory=list)
    judge: Judgement | None = None  # LLM mode, searched answers: the judge's yes/no
    verification: Judgement | None = None  # LLM mode, generated answers: the verifier's
    draft: str | None = None  # the model's raw output (for the eval; not in the API's JSON)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "body": self.body,
            "quotes": [q.to_json() for q in self.quotes],
            "abstained": self.abstained,
            "mode": self.mode,
            "model": self.model,
            "routed": self.routed,
            "notice": self.notice,
            "confidence": self.confidence,
            "unsupported": self.unsupported,
            "reattributed": self.reattributed,
            "prompt_tokens": self.prompt_tokens,
            "judge": self.judge.to_json() if self.judge else None,
            "verification": self.verification.to_json() if self.verification else None,
            "citations": [c.to_json() for c in self.citations],
        }
