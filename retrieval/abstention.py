"""Recognise a generated answer that says, in any wording, that the contracts are silent."""

from __future__ import annotations

import re

from french.normalize import fold

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
