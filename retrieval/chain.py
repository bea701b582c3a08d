"""The question-answering chain: route, retrieve (planner), compose or generate, stream.

Answers are extractive by default (retrieval/compose.py); with an LLM configured, an LCEL chain
(prompt | model | parser) writes the answer and its citations are validated before it is shown
as sourced (retrieval/generation.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from retrieval.compose import NOT_INDEXED, Composer
from retrieval.extractive import Meaning
from retrieval.generation import ABSTAIN, AnswerEvent, Generator, replay
from retrieval.models import Answer, Turn
from retrieval.planner import Planner, Retrieved
from retrieval.prompts import AnswerPrompt
from retrieval.retriever import HybridSearch
from retrieval.routing import Route, Router, corpus_vocabulary

__all__ = ["ABSTAIN", "NOT_INDEXED", "AnswerEvent", "ChainConfig", "QAChain", "Retrieved"]


@dataclass(frozen=True)
class ChainConfig:
    top_k: int = 6
    abstain_threshold: float = 0.19
    context_tokens: int = 3000
    routing: bool = True


class QAChain:
    """Answer questions over the indexed contracts."""

    def __init__(self, search: HybridSearch, config: ChainConfig,
                 llm: BaseChatModel | None = None, model_name: str | None = None,
                 prompt: AnswerPrompt | None = None) -> None:
        if config.top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.search = search
        self.config = config
        self.llm = llm
        self.model_name = model_name
        self.prompt = prompt or AnswerPrompt()
        self.planner = Planner(search, lambda: self.router)
        self.generator = (Generator(llm, self.prompt, config.context_tokens, model_name)
                          if llm is not None else None)
        self._router: Router | None = None
        self._router_key = ""

    def refresh(self) -> None:
        self.search.refresh()
        self._router = None

    @property
    def router(self) -> Router:
        key = self.search.store.fingerprint()
        if self._router is None or key != self._router_key:
            self._router = Router(self.search.store.documents(), self._vocabulary())
            self._router_key = key
        return self._router

    def _vocabulary(self) -> dict[str, frozenset[str]]:
        """Each indexed document's folded words (for names rare in the rest of the corpus)."""
        return corpus_vocabulary(((c.document_id, c.indexed_text) for c in self.search.chunks()),
                                 self.search.store.documents())

    def retrieve(self, question: str, documents: list[str] | None = None,
                 history: list[Turn] | None = None, top_k: int | None = None) -> Retrieved:
        route = self.router.route(question) if self.config.routing else Route()
        previous = history[-1] if history and route.follow_up and not route.articles else None
        return self.planner.retrieve(question, route, previous, documents,
                                     top_k or self.config.top_k)

    def answer(self, question: str, documents: list[str] | None = None,
               history: list[Turn] | None = None, top_k: int | None = None,
               generate: bool = True) -> Answer:
        """The final answer; `generate=False` gives the extractive one even with an LLM."""
        final: Answer | None = None
        for event in self.stream(question, documents, history, top_k, generate):
            if event.kind == "answer":
                final = event.answer
        assert final is not None
        return final

    def stream(self, question: str, documents: list[str] | None = None,
               history: list[Turn] | None = None, top_k: int | None = None,
               generate: bool = True) -> Iterator[AnswerEvent]:
        question = question.strip()
        if not question:
            raise ValueError("La question est vide.")
        retrieved = self.retrieve(question, documents, history, top_k)
        composer = Composer(self.search.lexical().idf, self.config.abstain_threshold)
        asked = f"{retrieved.previous} {question}" if retrieved.previous else question
        extractive = composer.compose(question, retrieved, self._meaning(asked))
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

    def _meaning(self, question: str) -> Meaning:
        """Each sentence's cosine with the question, from the search's embedder."""
        embedder = self.search.embedder

        def closeness(units: list[str]) -> list[float]:
            query = embedder.embed_query(question)
            return [float(v) for v in embedder.embed_batch(units) @ query]

        return closeness
