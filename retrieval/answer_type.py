"""Expected answer types: a question asking "how long" is answered by a clause with a duration.

Classic question answering: classify what the question asks for (a duration, an amount), then
prefer the candidate clauses with a sentence that both holds such a value and shares words with
the question. General French phrasing, nothing about a particular contract.
"""

from __future__ import annotations

import re
from typing import Literal

from ingest.lexical import expand_query, tokenize
from retrieval.extractive import sentences

AnswerType = Literal["duration", "amount"]

_DURATION_QUESTION = re.compile(
    r"\b(combien de (?:temps|jours|mois|semaines|ann[ée]es)|pendant combien|"
    r"quel(?:le)? (?:dur[ée]e|d[ée]lai)|dans quel d[ée]lai|jusqu['’]à quand|à partir de quand)",
    re.IGNORECASE,
)
_AMOUNT_QUESTION = re.compile(
    r"\b(jusqu['’]à quel montant|quel montant|combien co[uû]te|quel (?:prix|tarif)|plafond)",
    re.IGNORECASE,
)
_NUMBER = (r"(?:\d+|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|"
           r"trente|quarante-cinq|soixante|quatre-vingt-dix)")
_DURATION = re.compile(
    rf"\b{_NUMBER}\s*(?:\(\d+\)\s*)?(?:jours?|mois|ans|ann[ée]es?|semaines?|heures?)\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"\d[\d\s.,]*\s*(?:€|euros?\b|%)|montant (?:total )?des sommes|\bfois le montant",
    re.IGNORECASE,
)


def expected_type(question: str) -> AnswerType | None:
    """What the question asks for, when it asks for a duration or an amount."""
    if _DURATION_QUESTION.search(question):
        return "duration"
    if _AMOUNT_QUESTION.search(question):
        return "amount"
    return None


def answers_type(text: str, kind: AnswerType, question: str) -> bool:
    """True when a sentence of `text` holds a value of that kind and a word of the question."""
    pattern = _DURATION if kind == "duration" else _AMOUNT
    terms = set(tokenize(expand_query(question)))
    return any(pattern.search(s) and terms & set(tokenize(s)) for s in sentences(text))
