"""When to abstain: a searched answer's confidence (the threshold is the chain's config), and a
generated answer that says, in any wording, that the contracts are silent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from french.normalize import fold
from french.tokens import tokenize

if TYPE_CHECKING:
    from retrieval.retriever import HybridSearch, Scored

# A question is refused whatever else it matches when words no indexed contract contains carry
# this share of its idf weight and no excerpt is close to it in meaning ("la recette de la tarte
# aux pommes": "recette" is also acceptance testing). Measured on 2026-12-02: no answerable gold
# question reaches the share on the eval index; with each contract indexed alone, where a
# paraphrase word is often absent ("plafond" for "limitation"), the dense bound keeps all 200
# answerable single-contract questions out of it.
OFF_TOPIC_SHARE = 0.6
OFF_TOPIC_DENSE = 0.2


def search_confidence(search: HybridSearch, query: str, results: list[Scored]) -> float:
    """The reranker's best relevance or, without one, how well the best excerpts cover the
    question's rarer words, averaged with their closeness in meaning (0 to 1)."""
    if not results:
        return 0.0
    relevance = [s.relevance for s in results[:3] if s.relevance is not None]
    if relevance:
        return max(relevance)
    index = search.lexical()
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

# Folded (lower case, no accents) phrasings of "the excerpts do not say", French and English.
_VERBS = (r"(contien|mentionn|precis|prevo|prevoi|indiqu|aborde|trait|stipul|specifi|comport|"
          r"fourni|evoqu|fix|defini|repond|di[st]|parl|donn|regl|couvr|conti|enonc|permett)")
_SILENT = [re.compile(p) for p in (
    rf"\bne\s+(?:\w+\s+){{0,2}}{_VERBS}\w*\s+(?:\w+\s+)?(pas|aucun|rien|nulle)",
    rf"\bn'\s*{_VERBS}\w*\s+(?:\w+\s+)?(pas|aucun|rien)",
    rf"\bn'(est|etait|sont)\s+pas\s+{_VERBS}",
    r"\bn'y\s+a\s+(pas|aucun|rien)",
    r"\baucun(e|s)?\s+(clause|disposition|mention|information|stipulation|precision|"
    r"indication|element|reference|article|extrait|regle|donnee)",
    r"\bpas\s+d[e']\s*(clause|disposition|mention|information|precision|indication|element|"
    r"reference|reponse|donnee)",
    r"\b(silencieux|silencieuse|muets?|muettes?|silence)\b",
    r"\bnon\s+(precise|mentionne|prevu|indique|traite|aborde|specifie|trouve)",
    r"\bimpossible\s+de\s+(repondre|determiner|trouver)",
    r"\bje\s+ne\s+(peux|sais|trouve)\b",
    r"\b(does|do|did)\s*(not|n't)\s+(contain|mention|specify|provide|say|address|include|state)",
    r"\bno\s+(information|clause|mention|provision)",
)]


def says_silent(text: str) -> bool:
    """Whether a text says that the excerpts or contracts do not answer."""
    folded = fold(re.sub(r"\[\d+\]", " ", text)).replace("’", "'")
    return any(p.search(folded) for p in _SILENT)
