"""Compose the extractive answer in French from what was retrieved: the article asked for, a
table contract by contract, a definition, the quoted sentences that answer, or an abstention
listing the closest excerpts. Nothing is reworded: every quote is the contract's own words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from french.sentences import sentences
from retrieval.answer_type import ExpectedAnswer
from retrieval.definitions import defining_sentence
from retrieval.extractive import (
    Evidence,
    Meaning,
    cover_parts,
    damped,
    highlighted,
    quote_lines,
    select_sentences,
    sources_block,
)
from retrieval.models import Answer, Citation, Quote
from retrieval.planner import Retrieved
from retrieval.prompts import ABSTAIN

NOT_INDEXED = ("Aucun contrat indexé ne correspond à {names}. Vérifiez le nom du contrat, ou "
               "indexez-le d'abord (onglet « Contrats » ou `contractqa ingest`).")
INTRO = "D'après les contrats indexés (citations exactes, sans reformulation) :"


@dataclass(frozen=True)
class Composed:
    """An answer's text before its list of sources, the sentences it quotes, and each
    citation's highlighted sentence."""

    body: str
    quotes: list[Quote] = field(default_factory=list)
    highlights: dict[int, str] = field(default_factory=dict)


# How many of the quoted contract's best-ranked passages the quotes are chosen from (each
# passage's sentences weighed down by its rank). Facts found, 744 questions, 32 contracts in one
# index (2026-12-03, fifth session), depth 3 / 4 / 5 on 432 searched questions: 0.711 / 0.716 /
# 0.718, the same 2.49 sentences quoted on average; all 744: 0.732 -> 0.737 at 5 (4 questions
# gained, 1 lost).
QUOTE_DEPTH = 5


@dataclass(frozen=True)
class Composer:
    """The extractive answer to a question from its retrieved citations (left unchanged: the
    answer carries highlighted copies)."""

    idf: Mapping[str, float]
    abstain_threshold: float

    def compose(self, question: str, retrieved: Retrieved, meaning: Meaning,
                meaning_of: Callable[[str], Meaning] | None = None) -> Answer:
        citations = retrieved.citations
        routed = retrieved.route.documents
        if not citations:
            unknown = retrieved.route.unknown
            text = NOT_INDEXED.format(names=", ".join(f"« {n} »" for n in unknown)) if (
                unknown) else ABSTAIN
            return Answer(question, text, True, "extractive", [], routed=routed, body=text)
        # A follow-up ("Et chez NumSpot ?") has few words of its own: its quotes are chosen by
        # the previous question's words too. (Choosing every question's quotes without the
        # contract names that routed it was measured: facts found 0.681 -> 0.667, sample.)
        asked = f"{retrieved.previous} {question}" if retrieved.previous else question
        abstained = (retrieved.kind == "search"
                     and retrieved.confidence < self.abstain_threshold)
        if retrieved.kind == "comparison":
            composed = comparison_table(asked, retrieved, self.idf)
        elif retrieved.kind == "lookup":
            composed = self._lookup(asked, citations, retrieved.route.articles)
        elif abstained:
            composed = Composed(f"{ABSTAIN} Les extraits les plus proches sont listés pour "
                                "vérification.")
        else:
            composed = self._quotes(asked, retrieved, meaning, meaning_of)
        return Answer(question, f"{composed.body}\n\n{sources_block(citations)}", abstained,
                      "extractive", highlighted(citations, composed.highlights), routed=routed,
                      body=composed.body, quotes=composed.quotes)

    def _lookup(self, asked: str, citations: list[Citation], articles: list[str]) -> Composed:
        """The text of the article asked for (and its sub-articles), each excerpt cited."""
        highlights: dict[int, str] = {}
        for c in citations:
            highlights |= select_sentences(asked, [c], self.idf, limit=1, depth=1).highlights
        first = citations[0]
        requested = next((a for a in articles if first.article and (
            first.article == a or first.article.startswith(a + "."))), first.article)
        where = f" ({first.section})" if first.section else ""
        intro = (f"Voici le texte de l'article {requested}{where} de "
                 f"« {first.document_title} » :")
        text = "\n\n".join(f"« {c.excerpt} » [{c.n}]" for c in citations
                           if c.article and requested and
                           (c.article == requested or c.article.startswith(requested + ".")))
        return Composed(f"{intro}\n\n{text}", highlights=highlights)

    def _quotes(self, asked: str, retrieved: Retrieved, meaning: Meaning,
                meaning_of: Callable[[str], Meaning] | None) -> Composed:
        citations = retrieved.citations
        definitions = definition_evidence(retrieved)
        if definitions:
            return Composed(quote_lines(definitions, INTRO),
                            [Quote(e.citation, e.sentence) for e in definitions],
                            {e.citation: e.sentence for e in definitions})
        # Quotes come from one contract, the best-ranked one: an answer mixing contracts would
        # put another contract's words beside the one asked about (340 questions: answers
        # quoting another contract than their gold's, sample 9.6 % -> 5.1 %, extra 7.7 % ->
        # 6.6 %; facts found unchanged or higher).
        quoted = [c for c in citations if c.document_id == citations[0].document_id]
        idf = damped(self.idf, asked, quoted)
        chosen = select_sentences(asked, quoted, idf,
                                  holds_value=ExpectedAnswer.of(asked).value_in, meaning=meaning,
                                  context=True, depth=QUOTE_DEPTH)
        evidence = cover_parts(asked, quoted, chosen.evidence, idf, meaning_of,
                               lambda part: ExpectedAnswer.of(part).value_in)
        return Composed(quote_lines(evidence, INTRO),
                        [Quote(e.citation, e.sentence) for e in evidence], chosen.highlights)


def definition_evidence(retrieved: Retrieved) -> list[Evidence]:
    """The sentences defining the quoted term, from the citations found as definitions."""
    if not retrieved.defined_term:
        return []
    evidence = []
    for c in retrieved.citations[: retrieved.defining]:
        sentence = defining_sentence(retrieved.defined_term, sentences(c.excerpt))
        if sentence:
            evidence.append(Evidence(c.n, sentence, 1.0))
    return evidence


def comparison_table(question: str, retrieved: Retrieved, idf: Mapping[str, float]) -> Composed:
    """One row per contract: the sentence that answers, its citation and where it is."""
    rows = ["| Contrat | Ce que prévoit le contrat | Source |", "|---|---|---|"]
    holds_value = ExpectedAnswer.of(question).value_in
    quotes: list[Quote] = []
    highlights: dict[int, str] = {}
    for citations in retrieved.per_document.values():
        chosen = select_sentences(question, citations, idf, limit=1, depth=2,
                                  holds_value=holds_value)
        evidence = chosen.evidence
        highlights |= chosen.highlights
        c = next((x for x in citations if evidence and x.n == evidence[0].citation), citations[0])
        quote = evidence[0].sentence if evidence else c.excerpt[:300]
        quotes.append(Quote(c.n, quote))
        where = f"{c.section + ' — ' if c.section else ''}{_label(c)}"
        rows.append(f"| {c.document_title} | « {quote.replace('|', '/')} » [{c.n}] | {where} |")
    intro = "Comparaison, contrat par contrat (citations exactes) :"
    covered = len(retrieved.per_document)
    if retrieved.compared_of > covered:
        intro = (f"Comparaison des {covered} contrats les plus proches de la question, sur les "
                 f"{retrieved.compared_of} indexés (nommez les contrats à comparer, ou "
                 "restreignez la question à un dossier, pour en voir d'autres), contrat par "
                 "contrat (citations exactes) :")
    return Composed(f"{intro}\n\n" + "\n".join(rows), quotes, highlights)


def _label(c: Citation) -> str:
    return f"article {c.article}" if c.article and c.article != "Préambule" else "extrait"
