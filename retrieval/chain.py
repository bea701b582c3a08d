"""The question-answering chain: route, retrieve (search, lookup or per-contract), answer.

Answers are extractive by default; with an LLM configured, an LCEL chain (prompt | model |
parser) writes the answer and its citations are validated before it is shown as sourced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from langchain_core.language_models import BaseChatModel

from french.normalize import fold
from french.sentences import sentences
from french.tokens import tokenize
from ingest.chunking import count_tokens
from ingest.models import Chunk
from retrieval.answer_type import ExpectedAnswer
from retrieval.definitions import defined_term, defining_sentence, find_definitions
from retrieval.extractive import (
    Evidence,
    Meaning,
    best_sentences,
    quote_answer,
    sources_block,
)
from retrieval.generation import ABSTAIN, settle
from retrieval.models import Answer, Citation, Turn
from retrieval.prompts import AnswerPrompt
from retrieval.retriever import HybridSearch, Scored
from retrieval.routing import Route, Router, routing_vocabulary

if TYPE_CHECKING:
    pass

NOT_INDEXED = ("Aucun contrat indexé ne correspond à {names}. Vérifiez le nom du contrat, ou "
               "indexez-le d'abord (onglet « Contrats » ou `contractqa ingest`).")
# A question is refused whatever else it matches when words no indexed contract contains carry
# this share of its idf weight and no excerpt is close to it in meaning ("la recette de la tarte
# aux pommes": "recette" is also acceptance testing). Measured on 2026-12-02: no answerable gold
# question reaches the share on the eval index; with each contract indexed alone, where a
# paraphrase word is often absent ("plafond" for "limitation"), the dense bound keeps all 200
# answerable single-contract questions out of it.
OFF_TOPIC_SHARE = 0.6
OFF_TOPIC_DENSE = 0.2
log = logging.getLogger(__name__)


@dataclass
class AnswerEvent:
    """A streamed piece of an answer: text deltas, then the final validated answer."""

    kind: Literal["delta", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass
class Retrieved:
    citations: list[Citation]
    route: Route
    confidence: float = 1.0
    kind: Literal["search", "lookup", "comparison"] = "search"
    defined_term: str | None = None  # a quoted term that the first `defining` citations define
    defining: int = 0
    per_document: dict[str, list[Citation]] = field(default_factory=dict)
    previous: str | None = None  # the question a follow-up continues


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
        return routing_vocabulary(self.search.vocabularies(), self.search.store.documents())

    # Retrieval -------------------------------------------------------------------------------
    def retrieve(self, question: str, documents: list[str] | None = None,
                 history: list[Turn] | None = None, top_k: int | None = None) -> Retrieved:
        route = self.router.route(question) if self.config.routing else Route()
        previous = history[-1] if history and route.follow_up and not route.articles else None
        retrieved = self._retrieve(question, route, previous, documents, top_k or self.config.top_k)
        retrieved.previous = previous.question if previous else None
        return retrieved

    def _retrieve(self, question: str, route: Route, previous: Turn | None,
                  documents: list[str] | None, k: int) -> Retrieved:
        query = question
        if previous:
            query = f"{_strip_names(previous.question, self.router)} {question}"
            if not route.documents:
                route.documents = list(previous.documents)
        scope = route.documents or None
        if route.unknown and not documents and not previous:
            return Retrieved([], route, 0.0)  # the contract it names is not indexed
        if documents:
            scope = [d for d in (scope or documents) if d in documents] or list(documents)
        if (route.articles and scope is not None) or (route.articles and route.lookup):
            found = self._lookup(route, scope, query)
            if found:
                extra = [s for s in self.search.search(query, k, scope, route.sections)
                         if s.chunk.chunk_id not in {c.chunk_id for c in found}]
                size = max(k, len(found))
                chunks = (found + [s.chunk for s in extra])[:size]
                scores = ([1.0] * len(found) + [s.score for s in extra])[:size]
                return Retrieved(_citations(chunks, scores), route, kind="lookup")
        if route.comparison and (len(route.documents) >= 2 or route.all_documents):
            targets = route.documents if len(route.documents) >= 2 else (
                documents or [r.document_id for r in self.search.store.documents()])
            return self._compare(_strip_names(query, self.router), targets, route)
        if route.documents:
            # Inside the named contract its name only adds noise to ranking.
            query = _strip_names(query, self.router) or query
        results = self.search.search(query, k, scope, route.sections)
        term = defined_term(question)
        definitions = self._definitions(term, scope, route)
        if not definitions:
            citations = _citations([s.chunk for s in results], [s.score for s in results])
            return Retrieved(citations, route, self._confidence(query, results))
        # The contracts define the quoted term: the defining clauses answer, ahead of the others.
        ids = {c.chunk_id for c in definitions}
        others = [s for s in results if s.chunk.chunk_id not in ids]
        top = results[0].score if results else 1.0
        citations = _citations((definitions + [s.chunk for s in others])[:k],
                               ([top] * len(definitions) + [s.score for s in others])[:k])
        return Retrieved(citations, route, 1.0, defined_term=term, defining=len(definitions))

    def _lookup(self, route: Route, scope: list[str] | None, query: str) -> list[Chunk]:
        # Naming no contract, "l'article 14" is that of the contract the question is closest to.
        docs = scope or list(dict.fromkeys(
            [s.chunk.document_id for s in self.search.search(query, 10)]
            + [r.document_id for r in self.search.store.documents()]))
        for article in route.articles:
            for doc in docs:
                found = self.search.lookup(doc, article, route.sections.get(doc))
                if found and not route.sections.get(doc):
                    # Numbering restarts per sub-document: keep the first section found.
                    found = [c for c in found if c.section == found[0].section]
                if found:
                    return found
        return []

    def _definitions(self, term: str | None, scope: list[str] | None, route: Route
                     ) -> list[Chunk]:
        """The clauses defining a quoted term (in the named section first), if any."""
        if not term:
            return []
        pool = self.search.containing(term, scope)
        in_section = [c for c in pool if route.sections.get(c.document_id) == c.section]
        return find_definitions(term, in_section) or find_definitions(term, pool)

    def _compare(self, query: str, targets: list[str], route: Route) -> Retrieved:
        chunks: list[Chunk] = []
        scores: list[float] = []
        for doc in targets:
            for s in self.search.search(query, 2, [doc], route.sections):
                chunks.append(s.chunk)
                scores.append(s.score)
        citations = _citations(chunks, scores)
        per_doc: dict[str, list[Citation]] = {}
        for c in citations:
            per_doc.setdefault(c.document_id, []).append(c)
        return Retrieved(citations, route, kind="comparison", per_document=per_doc)

    def _confidence(self, query: str, results: list[Scored]) -> float:
        """The reranker's best relevance or, without one, how well the best excerpts cover the
        question's rarer words (0 to 1)."""
        if not results:
            return 0.0
        relevance = [s.relevance for s in results[:3] if s.relevance is not None]
        if relevance:
            return max(relevance)
        index = self.search.lexical()
        terms = set(tokenize(query))
        if not terms:
            return 0.0
        # A word no contract contains is the most telling one: give it the highest weight.
        unseen = index.idf.highest()
        weights = {t: index.idf.get(t, unseen) for t in terms}
        total = sum(weights.values()) or 1.0
        dense = max(s.dense for s in results[:3])
        absent = sum(w for t, w in weights.items() if t not in index.idf)
        if dense < OFF_TOPIC_DENSE and absent >= OFF_TOPIC_SHARE * total:
            return 0.0  # most of what the question asks about is in no indexed contract
        best = 0.0
        for s in results[:3]:
            words = set(tokenize(s.chunk.indexed_text))
            best = max(best, sum(w for t, w in weights.items() if t in words) / total)
        return 0.5 * best + 0.5 * dense

    # Answers ---------------------------------------------------------------------------------
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
        extractive = self._extractive(question, retrieved)
        if (self.llm is None or not generate
                or (extractive.abstained and retrieved.kind == "search")):
            events = _replay(extractive)
        else:
            events = self._generate(question, retrieved, extractive)
        thresholded = retrieved.kind == "search" and not retrieved.defined_term
        for event in events:
            if event.answer is not None and thresholded:
                event.answer.confidence = round(retrieved.confidence, 4)
            yield event

    def _extractive(self, question: str, retrieved: Retrieved) -> Answer:
        citations = retrieved.citations
        routed = retrieved.route.documents
        idf = self.search.lexical().idf
        if not citations:
            unknown = retrieved.route.unknown
            text = NOT_INDEXED.format(names=", ".join(f"« {n} »" for n in unknown)) if (
                unknown) else ABSTAIN
            return Answer(question, text, True, "extractive", [], routed=routed)
        # A follow-up ("Et chez NumSpot ?") has few words of its own: its quotes are chosen by
        # the previous question's words too. (Choosing every question's quotes without the
        # contract names that routed it was measured: facts found 0.681 -> 0.667, sample.)
        asked = f"{retrieved.previous} {question}" if retrieved.previous else question
        if retrieved.kind == "comparison":
            return Answer(question, _comparison_table(asked, retrieved, idf), False,
                          "extractive", citations, routed=routed)
        if retrieved.kind == "lookup":
            for c in citations:
                best_sentences(asked, [c], idf, limit=1, depth=1)  # sets the highlight
            requested = next((a for a in retrieved.route.articles if citations[0].article and (
                citations[0].article == a or citations[0].article.startswith(a + "."))),
                citations[0].article)
            where = citations[0].section
            intro = (f"Voici le texte de l'article {requested}"
                     f"{f' ({where})' if where else ''} de « {citations[0].document_title} » :")
            text = "\n\n".join(f"« {c.excerpt} » [{c.n}]" for c in citations
                               if c.article and requested and
                               (c.article == requested or c.article.startswith(requested + ".")))
            return Answer(question, f"{intro}\n\n{text}\n\n{sources_block(citations)}", False,
                          "extractive", citations, routed=routed)
        if retrieved.confidence < self.config.abstain_threshold:
            return Answer(question, f"{ABSTAIN} Les extraits les plus proches sont listés pour "
                          f"vérification.\n\n{sources_block(citations)}", True, "extractive",
                          citations, routed=routed)
        # Quotes come from one contract, the best-ranked one: an answer mixing contracts would
        # put another contract's words beside the one asked about (340 questions: answers
        # quoting another contract than their gold's, sample 9.6 % -> 5.1 %, extra 7.7 % ->
        # 6.6 %; facts found unchanged or higher).
        quoted = [c for c in citations if c.document_id == citations[0].document_id]
        evidence = _definition_evidence(retrieved) or best_sentences(
            asked, quoted, idf, holds_value=ExpectedAnswer.of(asked).value_in,
            meaning=self._meaning(asked))
        intro = "D'après les contrats indexés (citations exactes, sans reformulation) :"
        return Answer(question, quote_answer(evidence, citations, intro), False, "extractive",
                      citations, routed=routed)

    def _meaning(self, question: str) -> Meaning:
        """Each sentence's cosine with the question, from the search's embedder."""
        embedder = self.search.embedder

        def closeness(units: list[str]) -> list[float]:
            query = embedder.embed_query(question)
            return [float(v) for v in embedder.embed_batch(units) @ query]

        return closeness

    def _generate(self, question: str, retrieved: Retrieved, fallback: Answer
                  ) -> Iterator[AnswerEvent]:
        assert self.llm is not None
        context, used = self.prompt.context(retrieved.citations, self.config.context_tokens,
                                            question)
        inputs = {"context": context, "question": self.prompt.question(question,
                                                                       retrieved.previous)}
        template = self.prompt.template()
        parts: list[str] = []
        prompt_tokens: int | None = None
        shown = self.prompt.stream_filter()  # the verdict line is read, not shown
        fmt = self.prompt.response_format()
        model = self.llm.bind(response_format=fmt) if fmt else self.llm
        try:
            for chunk in (template | model).stream(inputs):
                usage = getattr(chunk, "usage_metadata", None)
                if usage:
                    prompt_tokens = int(usage.get("input_tokens") or 0) or prompt_tokens
                delta = chunk.content if isinstance(chunk.content, str) else ""
                parts.append(delta)
                if text := shown.feed(delta):
                    yield AnswerEvent("delta", text)
        except Exception as exc:  # noqa: BLE001 - any model/server failure: show the quotes
            log.warning("LLM failed: %r", exc)
            yield AnswerEvent("answer", answer=self._fallback(
                fallback, f"Le modèle n'a pas répondu ({_why(exc)}) : réponse extractive "
                          "affichée à la place."))
            return
        if text := shown.flush():
            yield AnswerEvent("delta", text)
        answer = settle("".join(parts), used, fallback, self.prompt, self.model_name)
        # The server's count when it reports usage, else tiktoken's count of the messages.
        answer.prompt_tokens = prompt_tokens or sum(
            count_tokens(str(m.content)) for m in template.format_messages(**inputs))
        yield AnswerEvent("answer", answer=answer)

    def _fallback(self, extractive: Answer, notice: str) -> Answer:
        return Answer(extractive.question, extractive.answer, extractive.abstained,
                      "llm-fallback", extractive.citations, model=self.model_name,
                      routed=extractive.routed, notice=notice)


def _why(exc: Exception) -> str:
    """Why the model failed, in French and without class names (the log keeps the detail)."""
    name = type(exc).__name__.lower()
    if "timeout" in name or isinstance(exc, TimeoutError):
        return "délai dépassé"
    if "connect" in name or isinstance(exc, ConnectionError):
        return "serveur injoignable"
    if "auth" in name or "permission" in name:
        return "accès refusé par le serveur du modèle"
    return "erreur du serveur du modèle"


def _replay(answer: Answer) -> Iterator[AnswerEvent]:
    for piece in re.findall(r"\S+\s*", answer.answer):
        yield AnswerEvent("delta", piece)
    yield AnswerEvent("answer", answer=answer)


def _definition_evidence(retrieved: Retrieved) -> list[Evidence]:
    """The sentences defining the quoted term, from the citations found as definitions."""
    if not retrieved.defined_term:
        return []
    evidence = []
    for c in retrieved.citations[: retrieved.defining]:
        sentence = defining_sentence(retrieved.defined_term, sentences(c.excerpt))
        if sentence:
            c.highlight = sentence
            evidence.append(Evidence(c.n, sentence, 1.0))
    return evidence


def _citations(chunks: list[Chunk], scores: list[float]) -> list[Citation]:
    return [
        Citation(n=i, document_id=c.document_id, document_title=c.document_title,
                 section=c.section, article=c.article, heading=c.heading, pages=list(c.pages),
                 excerpt=c.text, score=round(float(s), 4), chunk_id=c.chunk_id)
        for i, (c, s) in enumerate(zip(chunks, scores, strict=True), start=1)
    ]


def _label(c: Citation) -> str:
    return f"article {c.article}" if c.article and c.article != "Préambule" else "extrait"


def _strip_names(question: str, router: Router) -> str:
    folded = fold(question)
    kept = question
    for pattern, _variant, _docs in router.names:
        for match in pattern.finditer(folded):
            kept = kept[: match.start()] + " " * (match.end() - match.start()) + kept[match.end():]
    return re.sub(r"\s+", " ", kept).strip()


def _comparison_table(question: str, retrieved: Retrieved, idf: Mapping[str, float]) -> str:
    rows = ["| Contrat | Ce que prévoit le contrat | Source |", "|---|---|---|"]
    holds_value = ExpectedAnswer.of(question).value_in
    for citations in retrieved.per_document.values():
        evidence = best_sentences(question, citations, idf, limit=1, depth=2,
                                  holds_value=holds_value)
        c = next((x for x in citations if evidence and x.n == evidence[0].citation), citations[0])
        quote = evidence[0].sentence if evidence else c.excerpt[:300]
        where = f"{c.section + ' — ' if c.section else ''}{_label(c)}"
        rows.append(f"| {c.document_title} | « {quote.replace('|', '/')} » [{c.n}] | {where} |")
    intro = "Comparaison, contrat par contrat (citations exactes) :"
    return f"{intro}\n\n" + "\n".join(rows) + "\n\n" + sources_block(retrieved.citations)
