"""The question-answering chain: route, retrieve (planner), compose or generate, stream.

Answers are extractive by default (retrieval/compose.py); with an LLM configured, an LCEL chain
(prompt | model | parser) writes the answer and its citations are validated before it is shown
as sourced (retrieval/generation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from retrieval.compose import NOT_INDEXED, Composer
from retrieval.extractive import Meaning
from retrieval.generation import ABSTAIN, READING, AnswerEvent, Generator, replay
from retrieval.judge import JudgeConfig, VerifierConfig
from retrieval.models import Answer, Turn
from retrieval.planner import Planner, Retrieved
from retrieval.prompts import AnswerPrompt
from retrieval.retriever import HybridSearch
from retrieval.routing import CACHED_POSTINGS, Route, Router, Routers

__all__ = ["ABSTAIN", "NOT_INDEXED", "READING", "AnswerEvent", "ChainConfig", "JudgeConfig",
           "QAChain", "Retrieved", "VerifierConfig"]


@dataclass(frozen=True)
class ChainConfig:
    top_k: int = 6
    abstain_threshold: float = 0.19
    context_tokens: int = 3000
    routing: bool = True
    judge: JudgeConfig | None = None  # None: no judge (extractive mode, or turned off)
    cached_postings: int = CACHED_POSTINGS  # the router's word lists kept in memory (ids)
    llm_excerpts: int = 5  # the top excerpts the model reads, at most (within context_tokens)
    verifier: VerifierConfig | None = None  # None: generated answers are not verified


class QAChain:
    """Answer questions over the indexed contracts."""

    def __init__(self, search: HybridSearch, config: ChainConfig,
                 llm: BaseChatModel | None = None, model_name: str | None = None,
                 prompt: AnswerPrompt | None = None) -> None:
        if config.top_k < 1:
            raise ValueError("top_k must be at least 1")
        if config.llm_excerpts < 1:
            raise ValueError("llm_excerpts must be at least 1")
        self.search = search
        self.config = config
        self.llm = llm
        self.model_name = model_name
        self.prompt = prompt or AnswerPrompt()
        self.planner = Planner(search)
        self.generator = (Generator(llm, self.prompt, config.context_tokens, model_name,
                                    config.judge, excerpts=config.llm_excerpts,
                                    verifier=config.verifier)
                          if llm is not None else None)
        self.routers = Routers(search, config.cached_postings)

    def refresh(self) -> None:
        self.search.refresh()
        self.routers.clear()

    @property
    def router(self) -> Router:
        """The router over every indexed contract."""
        return self.routers.get(None)

    def retrieve(self, question: str, documents: list[str] | None = None,
                 history: list[Turn] | None = None, top_k: int | None = None,
                 within: frozenset[str] | None = None) -> Retrieved:
        """`documents`: the contracts the caller chose; `within`: those it may see (its
        matters), None for all. An answer never comes from outside either."""
        router = self.routers.get(within)
        route = router.route(question) if self.config.routing else Route()
        previous = history[-1] if history and route.follow_up and not route.articles else None
        return self.planner.retrieve(question, route, previous, documents,
                                     top_k or self.config.top_k, router, within)

    def answer(self, question: str, documents: list[str] | None = None,
               history: list[Turn] | None = None, top_k: int | None = None,
               generate: bool = True, within: frozenset[str] | None = None) -> Answer:
        """The final answer; `generate=False` gives the extractive one even with an LLM."""
        final: Answer | None = None
        for event in self.stream(question, documents, history, top_k, generate, within):
            if event.kind == "answer":
                final = event.answer
        assert final is not None
        return final

    def stream(self, question: str, documents: list[str] | None = None,
               history: list[Turn] | None = None, top_k: int | None = None,
               generate: bool = True, within: frozenset[str] | None = None
               ) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ValueError("La question est vide.")
        retrieved = self.retrieve(question, documents, history, top_k, within)
        composer = Composer(self.search.lexical().idf, self.config.abstain_threshold)
        asked = f"{retrieved.previous} {question}" if retrieved.previous else question
        meaning_of = self._meaning_of()
        extractive = composer.compose(question, retrieved, meaning_of(asked), meaning_of)
        if (self.generator is None or not generate
                or (extractive.abstained and retrieved.kind == "search")):
            events = replay(extractive)
        else:
            events = self.generator.stream(question, retrieved, extractive)
        thresholded = retrieved.kind == "search" and not retrieved.defined_term
        for event in events:
            if event.answer is not None and thresholded:
                event.answer.confidence = round(retrieved.confidence, 4)
            yield event

    def _meaning_of(self) -> Callable[[str], Meaning]:
        """For any text (the question, or a part of it), each sentence's cosine with it, from
        the search's embedder; a sentence is embedded once for all the texts it is scored on."""
        embedder = self.search.embedder
        cache: dict[str, Any] = {}

        def of(question: str) -> Meaning:
            def closeness(units: list[str]) -> list[float]:
                new = [u for u in dict.fromkeys(units) if u not in cache]
                if new:
                    cache.update(zip(new, embedder.embed_batch(new), strict=True))
                query = embedder.embed_query(question)
                return [float(cache[u] @ query) for u in units]

            return closeness

        return of
