"""Expected answer types: a question asking "how long" is answered by a clause with a duration.

Classic question answering: classify what the question asks for (a duration, an amount), then
prefer the candidate clauses with a sentence that both holds such a value and shares words with
the question. General French phrasing, nothing about a particular contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from french.numbers import has_amount, has_duration
from french.sentences import sentences
from french.tokens import expand_query, tokenize

AnswerType = Literal["duration", "amount"]

_DURATION_QUESTION = re.compile(
    r"\b(combien de (?:temps|jours|mois|semaines|ann[ée]es)|pendant combien|au bout de combien|"
    r"quel(?:le)?s? (?:(?:est|sont) (?:le|la|les) )?(?:dur[ée]es?|d[ée]lais?|pr[ée]avis|"
    r"p[ée]riodes?|cr[ée]neaux|horaires?)\b|dans quel d[ée]lai|sous quel d[ée]lai|"
    r"jusqu['’]à quand|à partir de quand|à quelle heure)",
    re.IGNORECASE,
)
_AMOUNT_QUESTION = re.compile(
    r"\b(jusqu['’]à quel montant|combien co[uû]te|à combien s['’][ée]l[eè]ve|plafond|"
    r"quel(?:le)?s? (?:(?:est|sont) (?:le|la|les) )?(?:montants?|prix|tarifs?|co[uû]ts?|"
    r"redevances?)\b)",
    re.IGNORECASE,
)

@dataclass(frozen=True)
class ExpectedAnswer:
    """What a question asks for (durations, amounts) and its search words, computed once."""

    kinds: frozenset[AnswerType]
    terms: frozenset[str]

    @classmethod
    def of(cls, question: str) -> ExpectedAnswer:
        kinds: set[AnswerType] = set()
        if _DURATION_QUESTION.search(question):
            kinds.add("duration")
        if _AMOUNT_QUESTION.search(question):
            kinds.add("amount")
        terms = frozenset(tokenize(expand_query(question))) if kinds else frozenset()
        return cls(frozenset(kinds), terms)

    def value_in(self, sentence: str) -> bool:
        """True when the sentence holds a value of an asked kind (a duration, an amount)."""
        return any((has_duration if kind == "duration" else has_amount)(sentence)
                   for kind in self.kinds)

    def held_by(self, text: str) -> bool:
        """True when a sentence of `text` holds a value of an asked kind and a question word."""
        # Item by item: a list's lead-in and items taken together (as quotes take them) would
        # pair the lead-in's words with any item's value; measured, it moved rankings for worse.
        return any(self.value_in(s) and self.terms & set(tokenize(s))
                   for s in sentences(text, lists=False))
