"""Extractive answers: quote the sentences of the retrieved articles that answer the question."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from french.normalize import fold
from french.numbers import has_amount, has_duration
from french.sentences import sentences
from french.tokens import tokenize
from ingest.chunking import article_label
from retrieval.models import Citation

# Measured on the gold set (2026-12-02, 135 searched questions, facts of the answer found in the
# quoted sentences): one sentence per citation 0.51 (blind questions 0.39); two per citation and
# a bonus for sentences holding the kind of value asked 0.61 (blind 0.53), 2.3 sentences quoted
# on average instead of 1.9.
VALUE_BONUS = 0.15

_NUMERIC_Q = re.compile(
    r"\b(combien|montant|délai|delai|durée|duree|quel(le)?s? (?:est|sont) (?:le|la|les) "
    r"(?:plafond|taux|prix|pourcentage|préavis))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Evidence:
    citation: int
    sentence: str
    score: float


def score_sentence(sentence: str, query_terms: set[str], idf: Mapping[str, float],
                   numeric: bool, holds_value: Callable[[str], bool] | None = None) -> float:
    """Share of the question's idf weight the sentence holds, plus bonuses for a figure or
    for a value of the kind asked (`holds_value`, e.g. a duration for "combien de temps")."""
    terms = set(tokenize(sentence))
    if not terms or not query_terms:
        return 0.0
    total = sum(idf.get(t, 1.0) for t in query_terms)
    hit = sum(idf.get(t, 1.0) for t in query_terms & terms)
    score = hit / total if total else 0.0
    # A figure in words counts as one ("une durée d'un an"): a duration or amount spelled out.
    if numeric and (re.search(r"\d", sentence) or has_duration(sentence)
                    or has_amount(sentence)):
        score += 0.15
    if holds_value is not None and holds_value(sentence):
        score += VALUE_BONUS
    return score - 0.02 * math.log(1 + len(sentence) / 300)


# How much a sentence's closeness in meaning to the question (the embedder's cosine) adds to
# its share of the question's words: paraphrases ("réattribuée à un autre salarié" for "ne
# peuvent être transférées") share few words. Facts found in the answer, 644 gold questions,
# 27 contracts in one index (2026-12-03), weights 0 / 0.5 / 1.0 / 1.5: pool 0.729 / 0.750 /
# 0.736 / 0.747, sample 0.700 / 0.713 / 0.727 / 0.730, extra 0.687 / 0.718 / 0.718 / 0.703,
# synthetic 0.750 / 0.729 / 0.792 / 0.771, blind 0.653 / 0.641 / 0.671 / 0.665: 1.0 is the
# one weight that no corpus loses by.
MEANING_WEIGHT = 1.0
Meaning = Callable[[list[str]], list[float]]


# A question word found in most of the passages quoted from a contract ("Tchap" in every
# passage of the Tchap product sheet, the contract's own name) tells its sentences apart less
# than one found in a single passage ("pièces jointes"): its idf weight is cut by this share of
# the passages holding it. Facts found, 744 questions, 32 contracts in one index (2026-12-03,
# fourth session, made with pool-2 in view), damping 0 / 0.5 / 0.8 / 1.0: all 0.709 / 0.714 /
# 0.718 / 0.721, sample 0.720 / 0.727 / 0.736 / 0.742, extra 0.703 / 0.718 / 0.718 / 0.718,
# pool 0.698 / 0.704 / 0.708 / 0.711, synthetic 0.792 / 0.750 / 0.750 / 0.729, blind 0.659 /
# 0.647 / 0.659 / 0.653: 0.8 gains 14 questions and loses 6, and no blind question net.
LOCAL_DAMPING = 0.8


def damped(idf: Mapping[str, float], question: str, citations: list[Citation],
           damping: float = LOCAL_DAMPING) -> dict[str, float]:
    """The question words' idf weights, each cut by the share of `citations` holding it."""
    passages = [set(tokenize(c.excerpt)) for c in citations]
    if not passages or damping <= 0:
        return {t: idf.get(t, 1.0) for t in tokenize(question)}
    return {t: idf.get(t, 1.0) * (1.0 - damping * sum(t in p for p in passages) / len(passages))
            for t in tokenize(question)}


# A sentence that opens by pointing back at the one before it ("Ce délai est porté à 90 jours
# …", "Toutefois, …", "Dans ce cas, …", "De telles situations n'ouvriront droit à …") qualifies
# it: quoted apart, either one misleads. French demonstratives, "ledit"/"tel" and the
# connectives of an exception or a consequence: a closed class of the grammar, not words taken
# from our contracts ("il" is left out: legal French uses it impersonally, "Il est convenu").
# Facts found, 744 questions, 32 contracts in one index (2026-12-03, fifth session): 0.718 ->
# 0.732, 12 questions gained and none lost; 2.27 -> 2.49 sentences quoted on average (432
# searched questions).
_BACK_REFERENCE = re.compile(
    r"^(?:[•◦▪\-–—*]\s*)?(?:"
    r"(?:ce|cet|cette|ces|celui-ci|celle-ci|ceux-ci|celles-ci|ledit|ladite|lesdits|lesdites"
    r"|de tel(?:le)?s|un tel|une telle|toutefois|cependant|néanmoins|en revanche|[àa] défaut"
    r"|le cas échéant|dans ce cas|en ce cas|passé ce délai)\b"
    r"|(?:dans|en|pour|de|par|sur|après|avant|pendant|durant|dès|[àa] l['’]issue de"
    r"|au terme de|[àa] compter de|au-delà de) (?:ce|cet|cette|ces)\b)",
    re.IGNORECASE,
)


def is_title(unit: str, title: str) -> bool:
    """Whether a unit with no sentence end is the document's title, or part of it ("CONVENTION
    de mise à disposition des services numériques de la DINUM aux administrations" opening the
    convention's first passage): a title is no evidence."""
    if re.search(r"[.;!?]\s*$", unit):
        return False
    words, name = fold(" ".join(unit.split())), fold(" ".join(title.split()))
    main = name.split(" — ")[0]
    return bool(words) and (words in name or (len(main) >= 12 and main in words
                                                and len(words) <= len(main) + 20))


def points_back(sentence: str) -> bool:
    """Whether the sentence opens by referring to the one before it."""
    return bool(_BACK_REFERENCE.match(sentence))


@dataclass(frozen=True)
class Selection:
    """The sentences chosen to answer, and each citation's best sentence (its highlight)."""

    evidence: list[Evidence]
    highlights: dict[int, str]


def select_sentences(question: str, citations: list[Citation], idf: Mapping[str, float],
                     limit: int = 3, per_citation: int = 2, depth: int = 3,
                     holds_value: Callable[[str], bool] | None = None,
                     meaning: Meaning | None = None, context: bool = False) -> Selection:
    """The sentences that best answer the question, from the top `depth` citations.

    `meaning` gives each sentence's closeness in meaning to the question (0 to 1), if known.
    With `context`, a chosen sentence comes with its neighbour when one of the two points back
    at the other (`points_back`), in the contract's order.
    """
    query_terms = set(tokenize(question))
    numeric = bool(_NUMERIC_Q.search(question))
    units = [(rank, citation, [u for u in sentences(citation.excerpt)
                               if not is_title(u, citation.document_title)])
             for rank, citation in enumerate(citations[:depth])]
    flat = [s for _r, _c, found in units for s in found]
    closeness = dict(zip(flat, meaning(flat), strict=True)) if meaning and flat else {}
    candidates: list[Evidence] = []
    highlights: dict[int, str] = {}
    for rank, citation, found in units:
        scored = sorted(
            (Evidence(citation.n, s, (score_sentence(s, query_terms, idf, numeric, holds_value)
                                      + MEANING_WEIGHT * closeness.get(s, 0.0))
                      * (1.0 - 0.12 * rank))
             for s in found),
            key=lambda e: -e.score,
        )
        candidates.extend(scored[:per_citation])
        if scored:
            highlights[citation.n] = scored[0].sentence
    candidates.sort(key=lambda e: -e.score)
    chosen = [e for e in candidates if e.score > 0][:limit]
    if not chosen and candidates:
        chosen = candidates[:1]
    # Keep the strongest, and others only when they are close to it.
    if chosen:
        top = chosen[0].score
        chosen = [e for e in chosen if e.score >= 0.6 * top]
    if context:
        chosen = with_context(chosen, {c.n: found for _r, c, found in units})
    return Selection(chosen, highlights)


# A question that asks two things ("Quelle loi régit la convention et quelle juridiction est
# compétente ?", "Sous quel délai et dans quels formats … ?") is split where a coordinating
# "et"/"puis" opens a new interrogative: French grammar, not words from our contracts.
_NEXT_PART = re.compile(
    r"\s*,?\s+(?:et|puis)\s+(?=(?:(?:dans|sous|à|en|par|pour|avec|de|sur|selon|jusqu['’]à"
    r"|au bout de|pendant|au-delà de)\s+)?(?:quel(?:le)?s?|combien|comment|qui|que|qu['’]"
    r"|quand|où|pourquoi|lesquel(?:le)?s?|si)\b)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The questions a question asks, in order (one when it asks one thing)."""
    return [p for p in _NEXT_PART.split(question) if p.strip()]


def cover_parts(question: str, citations: list[Citation], chosen: list[Evidence],
                idf: Mapping[str, float], meaning_of: Callable[[str], Meaning] | None = None,
                holds_value: Callable[[str], Callable[[str], bool]] | None = None
                ) -> list[Evidence]:
    """`chosen` and, for each part of a question asking several things, the sentence of the
    quoted passages that best answers that part, when it is not quoted yet."""
    parts = question_parts(question)
    if len(parts) < 2 or not chosen:
        return chosen
    # Only from the passages already quoted: the parts of one question are answered in the
    # same clause, and a passage quoted for no other reason drags in its neighbours' words.
    quoted = [c for c in citations if c.n in {e.citation for e in chosen}]
    out = list(chosen)
    for part in parts:
        best = select_sentences(
            part, quoted, idf, limit=1, depth=len(quoted),
            holds_value=holds_value(part) if holds_value else None,
            meaning=meaning_of(part) if meaning_of else None).evidence
        taken = {(e.citation, e.sentence) for e in out}
        out.extend(e for e in best if (e.citation, e.sentence) not in taken)
    return out


def with_context(chosen: list[Evidence], found: Mapping[int, list[str]]) -> list[Evidence]:
    """Each chosen sentence with the sentence before it when it points back at it, and the one
    after it when that one points back, each once, in the excerpt's order."""
    out: list[Evidence] = []
    taken = {(e.citation, e.sentence) for e in chosen}
    for e in chosen:
        units = found.get(e.citation, [])
        at = units.index(e.sentence) if e.sentence in units else -1
        before = units[at - 1] if at > 0 and points_back(e.sentence) else None
        after = units[at + 1] if 0 <= at < len(units) - 1 and points_back(units[at + 1]) else None
        for sentence in (before, e.sentence, after):
            if sentence is None:
                continue
            if sentence == e.sentence:
                out.append(e)
            elif (e.citation, sentence) not in taken:
                taken.add((e.citation, sentence))
                out.append(Evidence(e.citation, sentence, e.score))
    return out


def best_sentences(question: str, citations: list[Citation], idf: Mapping[str, float],
                   limit: int = 3, per_citation: int = 2, depth: int = 3,
                   holds_value: Callable[[str], bool] | None = None,
                   meaning: Meaning | None = None) -> list[Evidence]:
    """The sentences of `select_sentences`, without the highlights."""
    return select_sentences(question, citations, idf, limit, per_citation, depth, holds_value,
                            meaning).evidence


def highlighted(citations: list[Citation], highlights: dict[int, str]) -> list[Citation]:
    """Copies of the citations with their highlighted sentence (the inputs are left as they
    are)."""
    return [replace(c, highlight=highlights[c.n]) if c.n in highlights else c
            for c in citations]


def source_line(c: Citation) -> str:
    where = [c.document_title]
    if c.section:
        where.append(c.section)
    label = article_label(c.article)
    where.append(f"{label} {c.heading}" if c.heading and c.heading != label else label)
    pages = f" (p. {', '.join(str(p) for p in c.pages)})" if c.pages else ""
    return f"[{c.n}] " + " — ".join(where) + pages


def sources_block(citations: list[Citation]) -> str:
    return "Sources :\n" + "\n".join(source_line(c) for c in citations)


def quote_lines(evidence: list[Evidence], intro: str) -> str:
    """The intro, then each quoted sentence on its own line with its citation marker."""
    return "\n".join([intro, "", *(f"- « {e.sentence} » [{e.citation}]" for e in evidence)])
