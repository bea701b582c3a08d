"""Compose the extractive answer in French from what was retrieved: the article asked for, a
table contract by contract, a definition, the quoted sentences that answer, or an abstention
listing the closest excerpts. Nothing is reworded: every quote is the contract's own words."""

from __future__ import annotations

from dataclasses import dataclass

from french.sentences import sentences
from retrieval.answer_type import ExpectedAnswer
from retrieval.definitions import defining_sentence
from retrieval.extractive import Evidence, Meaning, best_sentences, quote_answer, sources_block
from retrieval.generation import ABSTAIN
from retrieval.models import Answer, Citation
from retrieval.planner import Retrieved

NOT_INDEXED = ("Aucun contrat indexé ne correspond à {names}. Vérifiez le nom du contrat, ou "
               "indexez-le d'abord (onglet « Contrats » ou `contractqa ingest`).")
INTRO = "D'après les contrats indexés (citations exactes, sans reformulation) :"


@dataclass(frozen=True)
class Composer:
    """The extractive answer to a question from its retrieved citations."""

    idf: dict[str, float]
    abstain_threshold: float

    def compose(self, question: str, retrieved: Retrieved, meaning: Meaning) -> Answer:
        citations = retrieved.citations
        routed = retrieved.route.documents
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
            text = comparison_table(asked, retrieved, self.idf)
        elif retrieved.kind == "lookup":
            text = self._lookup(asked, citations, retrieved.route.articles)
        elif retrieved.confidence < self.abstain_threshold:
            return Answer(question, f"{ABSTAIN} Les extraits les plus proches sont listés pour "
                          f"vérification.\n\n{sources_block(citations)}", True, "extractive",
                          citations, routed=routed)
        else:
            text = self._quotes(asked, retrieved, meaning)
        return Answer(question, text, False, "extractive", citations, routed=routed)

    def _lookup(self, asked: str, citations: list[Citation], articles: list[str]) -> str:
        """The text of the article asked for (and its sub-articles), each excerpt cited."""
        for c in citations:
            best_sentences(asked, [c], self.idf, limit=1, depth=1)  # sets the highlight
        first = citations[0]
        requested = next((a for a in articles if first.article and (
            first.article == a or first.article.startswith(a + "."))), first.article)
        where = f" ({first.section})" if first.section else ""
        intro = (f"Voici le texte de l'article {requested}{where} de "
                 f"« {first.document_title} » :")
        text = "\n\n".join(f"« {c.excerpt} » [{c.n}]" for c in citations
                           if c.article and requested and
                           (c.article == requested or c.article.startswith(requested + ".")))
        return f"{intro}\n\n{text}\n\n{sources_block(citations)}"

    def _quotes(self, asked: str, retrieved: Retrieved, meaning: Meaning) -> str:
        citations = retrieved.citations
        # Quotes come from one contract, the best-ranked one: an answer mixing contracts would
        # put another contract's words beside the one asked about (340 questions: answers
        # quoting another contract than their gold's, sample 9.6 % -> 5.1 %, extra 7.7 % ->
        # 6.6 %; facts found unchanged or higher).
        quoted = [c for c in citations if c.document_id == citations[0].document_id]
        evidence = definition_evidence(retrieved) or best_sentences(
            asked, quoted, self.idf, holds_value=ExpectedAnswer.of(asked).value_in,
            meaning=meaning)
        return quote_answer(evidence, citations, INTRO)


def definition_evidence(retrieved: Retrieved) -> list[Evidence]:
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


def comparison_table(question: str, retrieved: Retrieved, idf: dict[str, float]) -> str:
    """One row per contract: the sentence that answers, its citation and where it is."""
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


def _label(c: Citation) -> str:
    return f"article {c.article}" if c.article and c.article != "Préambule" else "extrait"
