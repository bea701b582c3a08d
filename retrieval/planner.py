"""Plan a question's retrieval: one small strategy each for a contract that is not indexed, an
article lookup, a comparison, a defined term and a plain search, tried in that order; the first
that applies and finds something answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from french.normalize import fold
from ingest.models import Chunk
from retrieval.abstention import search_confidence
from retrieval.definitions import defined_term, find_definitions
from retrieval.models import Citation, Turn
from retrieval.retriever import HybridSearch
from retrieval.routing import NAME, Route, Router


@dataclass
class Retrieved:
    """What a strategy found: numbered citations, and what the answer is composed from."""

    citations: list[Citation]
    route: Route
    confidence: float = 1.0
    kind: Literal["search", "lookup", "comparison"] = "search"
    defined_term: str | None = None  # a quoted term that the first `defining` citations define
    defining: int = 0
    per_document: dict[str, list[Citation]] = field(default_factory=dict)
    previous: str | None = None  # the question a follow-up continues
    compared_of: int = 0  # a comparison: the contracts it could have covered (per_document's
    # are the ones it did: at most Comparison.LIMIT, the closest to the question)


@dataclass(frozen=True)
class Plan:
    """A question as the strategies see it: its words, what it names, where to look."""

    question: str
    query: str  # the words searched (a follow-up carries the previous question's)
    route: Route
    scope: list[str] | None  # the contracts to search, None for all
    documents: list[str] | None  # the contracts the answer may come from, None for all
    chosen: bool  # the caller chose contracts (else its matters, or all, bound the answer)
    followed: bool  # a follow-up of a previous question
    k: int
    router: Router  # the names of the contracts the caller may see


class Strategy(Protocol):
    def applies(self, plan: Plan) -> bool: ...

    def retrieve(self, plan: Plan) -> Retrieved | None: ...


class NotIndexed:
    """The question names a contract that is not indexed: nothing is retrieved."""

    def applies(self, plan: Plan) -> bool:
        return bool(plan.route.unknown) and not plan.chosen and not plan.followed

    def retrieve(self, plan: Plan) -> Retrieved | None:
        return Retrieved([], plan.route, 0.0)


class Lookup:
    """"l'article 14 du MSA": the article itself first, then what the search adds."""

    def __init__(self, search: HybridSearch) -> None:
        self.search = search

    def applies(self, plan: Plan) -> bool:
        named = bool(plan.route.documents) or plan.chosen  # not merely the caller's matters
        return bool(plan.route.articles) and (named or plan.route.lookup)

    def retrieve(self, plan: Plan) -> Retrieved | None:
        found = self._articles(plan)
        if not found:
            return None
        ids = {c.chunk_id for c in found}
        extra = [s for s in self.search.search(plan.query, plan.k, plan.scope, plan.route.sections)
                 if s.chunk.chunk_id not in ids]
        size = max(plan.k, len(found))
        chunks = (found + [s.chunk for s in extra])[:size]
        scores = ([1.0] * len(found) + [s.score for s in extra])[:size]
        return Retrieved(citations(chunks, scores), plan.route, kind="lookup")

    def _articles(self, plan: Plan) -> list[Chunk]:
        # Naming no contract, "l'article 14" is that of the contract the question is closest
        # to, among those the caller may see.
        named = bool(plan.route.documents) or plan.chosen
        docs = plan.scope if named and plan.scope else list(dict.fromkeys(
            [s.chunk.document_id for s in self.search.search(plan.query, 10, plan.documents)]
            + (plan.documents or [r.document_id for r in self.search.store.documents()])))
        sections = plan.route.sections
        for article in plan.route.articles:
            for doc in docs:
                found = self.search.lookup(doc, article, sections.get(doc))
                if found and not sections.get(doc):
                    # Numbering restarts per sub-document: keep the first section found.
                    found = [c for c in found if c.section == found[0].section]
                if found:
                    return found
        return []


class Comparison:
    """Two named contracts, or all of them: the two best excerpts of each. "All of them" in a
    firm's base is at most LIMIT contracts, those whose passages come first in a search of the
    question: each contract costs a search (about 10 ms at 1,000 generated contracts,
    docs/figures.md, issue 19), so the answer stays under a second and its table readable;
    the eval's index holds 36 contracts, all compared."""

    LIMIT = 50

    def __init__(self, search: HybridSearch) -> None:
        self.search = search

    def applies(self, plan: Plan) -> bool:
        route = plan.route
        return route.comparison and (len(route.documents) >= 2 or route.all_documents)

    def retrieve(self, plan: Plan) -> Retrieved | None:
        route = plan.route
        candidates = route.documents if len(route.documents) >= 2 else (
            plan.documents or [r.document_id for r in self.search.store.documents()])
        query = strip_names(plan.query, plan.router)
        targets = candidates
        if len(candidates) > self.LIMIT:
            hits = self.search.search(query, self.LIMIT * 4, candidates, route.sections)
            closest = list(dict.fromkeys(h.chunk.document_id for h in hits))[: self.LIMIT]
            targets = [d for d in candidates if d in set(closest)]
        chunks: list[Chunk] = []
        scores: list[float] = []
        for doc in targets:
            for s in self.search.search(query, 2, [doc], route.sections):
                chunks.append(s.chunk)
                scores.append(s.score)
        found = citations(chunks, scores)
        per_doc: dict[str, list[Citation]] = {}
        for c in found:
            per_doc.setdefault(c.document_id, []).append(c)
        return Retrieved(found, route, kind="comparison", per_document=per_doc,
                         compared_of=len(candidates))


class Search:
    """Hybrid search in the named contracts (or all); a quoted term's defining clauses first."""

    def __init__(self, search: HybridSearch) -> None:
        self.search = search

    def applies(self, plan: Plan) -> bool:
        return True

    def retrieve(self, plan: Plan) -> Retrieved | None:
        route, query = plan.route, plan.query
        if route.documents:
            # Inside the named contract its name only adds noise to ranking.
            query = strip_names(query, plan.router) or query
        results = self.search.search(query, plan.k, plan.scope, route.sections)
        term = defined_term(plan.question)
        definitions = self._definitions(term, plan.scope, route)
        if not definitions:
            found = citations([s.chunk for s in results], [s.score for s in results])
            return Retrieved(found, route, search_confidence(self.search, query, results))
        # The contracts define the quoted term: the defining clauses answer, ahead of the others.
        ids = {c.chunk_id for c in definitions}
        others = [s for s in results if s.chunk.chunk_id not in ids]
        top = results[0].score if results else 1.0
        found = citations((definitions + [s.chunk for s in others])[:plan.k],
                          ([top] * len(definitions) + [s.score for s in others])[:plan.k])
        return Retrieved(found, route, 1.0, defined_term=term, defining=len(definitions))

    def _definitions(self, term: str | None, scope: list[str] | None, route: Route
                     ) -> list[Chunk]:
        """The clauses defining a quoted term (in the named section first), if any."""
        if not term:
            return []
        pool = self.search.containing(term, scope)
        in_section = [c for c in pool if route.sections.get(c.document_id) == c.section]
        return find_definitions(term, in_section) or find_definitions(term, pool)


class Planner:
    """Build the plan of a question and run the first strategy that applies and finds."""

    def __init__(self, search: HybridSearch) -> None:
        self.strategies: tuple[Strategy, ...] = (
            NotIndexed(), Lookup(search), Comparison(search), Search(search))

    def retrieve(self, question: str, route: Route, previous: Turn | None,
                 documents: list[str] | None, k: int, router: Router,
                 within: frozenset[str] | None = None) -> Retrieved:
        """`documents`: the contracts the caller chose; `within`: those it may see (its
        matters), None for all. The answer comes from neither outside."""
        chosen = bool(documents)
        if within is not None:
            documents = [d for d in (documents or sorted(within)) if d in within]
            if not documents:  # nothing it may see: as if nothing were indexed
                return Retrieved([], Route(unknown=route.unknown), 0.0)
        query = question
        if previous:
            query = f"{strip_names(previous.question, router)} {question}"
            if not route.documents:
                route = replace(route, documents=list(previous.documents))
        scope = route.documents or None
        if documents:
            scope = [d for d in (scope or documents) if d in documents] or list(documents)
        plan = Plan(question, query, route, scope, documents, chosen, previous is not None, k,
                    router)
        for strategy in self.strategies:
            if strategy.applies(plan) and (found := strategy.retrieve(plan)) is not None:
                found.previous = previous.question if previous else None
                return found
        raise AssertionError("the search strategy always answers")


def citations(chunks: list[Chunk], scores: list[float]) -> list[Citation]:
    """Chunks as numbered citations, in rank order."""
    return [
        Citation(n=i, document_id=c.document_id, document_title=c.document_title,
                 section=c.section, article=c.article, heading=c.heading, pages=list(c.pages),
                 excerpt=c.text, score=round(float(s), 4), chunk_id=c.chunk_id)
        for i, (c, s) in enumerate(zip(chunks, scores, strict=True), start=1)
    ]


def strip_names(question: str, router: Router) -> str:
    """The question without the contract names it routes by."""
    folded = fold(question)
    kept = question
    for pattern, _variant, _docs in router.entries(NAME, folded):
        for match in pattern.finditer(folded):
            kept = kept[: match.start()] + " " * (match.end() - match.start()) + kept[match.end():]
    return re.sub(r"\s+", " ", kept).strip()
