"""Claim-level support: each sentence of a generated answer must cite an excerpt that holds it.

A sentence is supported when it cites (by its [n] markers, or those closing its paragraph) an
excerpt shown to the model that contains every figure of the sentence (numbers, amounts,
percentages, dates) and shares enough of its content words. Anything else - no marker, a
marker that points nowhere, a figure the excerpt lacks, words the excerpt does not use - is
unsupported: the chain removes the sentence and says so in the answer's `unsupported` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from french.numbers import figures
from french.tokens import tokenize
from retrieval.models import Citation
from retrieval.prompts import MARKER

# Share of a sentence's content words (stemmed, stop words out) that its cited excerpts must
# contain. NOT YET MEASURED: set by hand on the unit examples of tests/test_support.py (a
# faithful short reformulation shares over half its words; a sentence on another topic shares
# none). Calibrate on the `unsupported` reasons of an LLM eval run before relying on it.
MIN_OVERLAP = 0.3
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[^\s\[])")


@dataclass
class Claim:
    """One sentence of a generated answer and whether a cited excerpt supports it."""

    sentence: str
    markers: list[int]
    supported: bool = True
    reason: str | None = None  # why not, in French, for the answer's `unsupported` field

    def to_json(self) -> dict[str, object]:
        return {"sentence": self.sentence, "markers": self.markers, "reason": self.reason}


def missing_figures(text: str, evidence: str) -> set[str]:
    """The figures of `text` that `evidence` holds neither in digits nor spelled out."""
    return figures(text) - figures(evidence, spelled=True)


def split_claims(text: str) -> list[Claim]:
    """Sentences with their markers; a paragraph's closing markers cover its unmarked
    sentences, and a marker alone after a full stop belongs to the sentence before it."""
    claims: list[Claim] = []
    for paragraph in (p.strip() for p in re.split(r"\n+", text)):
        if not paragraph:
            continue
        units: list[str] = []
        for unit in _SENTENCE_END.split(paragraph):
            if units and not MARKER.sub("", unit).strip(" .,;"):
                units[-1] = f"{units[-1]} {unit}"  # "… jours. [1]"
            elif unit.strip():
                units.append(unit.strip())
        found = [Claim(u, [int(m) for m in MARKER.findall(u)]) for u in units]
        closing: list[int] = []
        for claim in reversed(found):
            if claim.markers:
                closing = claim.markers
            else:
                claim.markers = list(closing)
        claims.extend(found)
    return claims


def _evidence(c: Citation) -> str:
    return " ".join(x for x in (c.document_title, c.section, c.article, c.heading, c.excerpt)
                    if x)


def check(claim: Claim, citations: dict[int, Citation], min_overlap: float = MIN_OVERLAP
          ) -> Claim:
    """Mark a claim unsupported (with the reason) unless its cited excerpts hold it."""
    body = MARKER.sub(" ", claim.sentence)
    words = set(tokenize(body))
    if not claim.markers:
        if not figures(body) and len(words) <= 3:
            return claim  # a lead-in ("Voici ce que prévoit le contrat :") claims nothing
        claim.supported, claim.reason = False, "aucune citation"
        return claim
    unknown = [n for n in claim.markers if n not in citations]
    if unknown:
        claim.supported = False
        claim.reason = f"cite un extrait inexistant ({', '.join(f'[{n}]' for n in unknown)})"
        return claim
    cited = [citations[n] for n in claim.markers]
    text = " ".join(_evidence(c) for c in cited)
    missing = missing_figures(body, text)
    if missing:
        claim.supported = False
        claim.reason = ("chiffre absent de l'extrait cité : " + ", ".join(sorted(missing)))
        return claim
    if words:
        shared = len(words & set(tokenize(text))) / len(words)
        if shared < min_overlap:
            claim.supported = False
            claim.reason = f"mots absents de l'extrait cité ({shared:.0%} en commun)"
    return claim


def check_answer(text: str, citations: list[Citation], min_overlap: float = MIN_OVERLAP
                 ) -> list[Claim]:
    by_n = {c.n: c for c in citations}
    return [check(claim, by_n, min_overlap) for claim in split_claims(text)]
