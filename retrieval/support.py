"""Claim-level support: each sentence of a generated answer must cite an excerpt that holds it.

A sentence is supported when it cites (by its [n] markers, or those closing its paragraph) an
excerpt shown to the model that contains every figure of the sentence (numbers, amounts,
percentages, dates) and shares enough of its content words. Anything else - no marker, a
marker that points nowhere, a figure the excerpt lacks, words the excerpt does not use - is
unsupported: the chain removes the sentence and says so in the answer's `unsupported` field.
A sentence copied from an excerpt other than the one it cites is re-attributed to that excerpt
(`reattribute`), and the answer's `reattributed` field says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from french.numbers import figures, unit_figures
from french.sentences import sentences
from french.tokens import tokenize
from retrieval.models import Citation
from retrieval.prompts import MARKER

# Share of a sentence's content words (stemmed, stop words out; the contract's title aside)
# that its cited excerpts must contain. Measured on the 1.5B's 59 drafts of the 60 questions of
# eval/llm/llm60_pool.jsonl (`python -m bench.llm_thresholds`, 108 sentences): sentences
# removed for want of shared words 7 / 11 / 14 / 17 / 20 at 0.1 / 0.2 / 0.3 / 0.4 / 0.5, of
# which holding a gold fact 1 / 1 / 1 / 1 / 2, while the sentences kept holding one stay 26
# up to 0.4 (25 at 0.5): 0.3 removes twice the unsupported words of 0.1 for no fact.
MIN_OVERLAP = 0.3
# A sentence whose own marker does not hold it is re-attributed to the excerpt shown to the
# model that does: every figure, and this share both of its words and of the words it adds to
# the question (at least REATTRIBUTE_MIN_WORDS of them, so that a question merely restated is
# never "supported"). Small models copy a clause and number it wrong: on the 35 questions of
# the first 1.5B run (eval/llm/llm60_pool.jsonl), 17 answers fell back to extraction, 12 of
# them for a sentence copied from another excerpt than the one it cites. Measured there: the
# 22 sentences copied whole share 0.68 to 1.00 of their words with the excerpt; the two that
# mix two clauses into a wrong answer, 0.44 and 0.57. On all 60 questions (docs/figures.md):
# answers by the model 0.35 -> 0.72, citation validity 0.36 -> 0.73, facts 0.646 -> 0.633.
REATTRIBUTE_OVERLAP = 0.6
REATTRIBUTE_MIN_WORDS = 2
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[^\s\[])")


@dataclass
class Claim:
    """One sentence of a generated answer and whether a cited excerpt supports it."""

    sentence: str
    markers: list[int]
    supported: bool = True
    reason: str | None = None  # why not, in French, for the answer's `unsupported` field
    cited_by_model: list[int] | None = None  # the model's markers, when re-attributed

    def to_json(self) -> dict[str, object]:
        if self.cited_by_model is not None:
            return {"sentence": self.sentence, "markers": self.markers,
                    "cited_by_model": self.cited_by_model}
        return {"sentence": self.sentence, "markers": self.markers, "reason": self.reason}


def missing_figures(text: str, evidence: str) -> set[str]:
    """The figures of `text`, in digits or spelled out, that `evidence` holds in neither form,
    and its rates and sums that `evidence` does not give with the same unit ("10 %" where the
    excerpt has only "10 jours")."""
    # A number the sentence spells out counts too ("pendant six mois" where the excerpt gives no
    # duration: the 1.5B's answer, 2026-12-04), except 1, which "un", "une", "premier" write.
    missing = (figures(text) | (figures(text, spelled=True) - {"1"})) - figures(
        evidence, spelled=True)
    unmatched = unit_figures(text, spelled=True) - unit_figures(evidence, spelled=True)
    return missing | {f.replace("%", " %").replace("€", " €") for f in unmatched}


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
    # The contract's title names it and supports nothing: "Le contrat de location prévoit une
    # clause de confidentialité [2]" shares "contrat", "location" with any of its excerpts
    # (the real 0.5B's answer, 2026-12-03, where no clause speaks of confidentiality).
    words -= {w for c in cited for w in tokenize(c.document_title or "")}
    if words:
        clause = " ".join(x for c in cited for x in (c.section, c.article, c.heading, c.excerpt)
                          if x)
        shared = len(words & set(tokenize(clause))) / len(words)
        if shared < min_overlap:
            claim.supported = False
            claim.reason = f"mots absents de l'extrait cité ({shared:.0%} en commun)"
    return claim


def reattribute(claim: Claim, citations: dict[int, Citation], question: str) -> Claim:
    """An unsupported claim cites instead the one shown excerpt that holds it (see
    REATTRIBUTE_OVERLAP), the one holding most of its new words first; else it is unchanged."""
    body = MARKER.sub(" ", claim.sentence)
    added = set(tokenize(body)) - set(tokenize(question))
    # A marker pointing nowhere is an invented source: such a sentence is never repaired.
    if (claim.supported or len(added) < REATTRIBUTE_MIN_WORDS
            or any(n not in citations for n in claim.markers)):
        return claim
    words = set(tokenize(body))
    # What the sentence says it is about: the question's words it repeats, less those naming
    # the contract. The new excerpt must hold as many of them as the excerpt the model cited
    # (at least one): "La garantie des imprimantes est de 400 €" copies the rent clause's
    # figure and words, but that clause is not about a warranty.
    topic = (words & set(tokenize(question))) - {
        w for c in citations.values() for w in tokenize(c.document_title or "")}
    cited = [set(tokenize(_evidence(citations[n]))) for n in claim.markers if n in citations]
    about = max([len(topic & held) for held in cited] + [1]) if topic else 0
    best: tuple[float, int] | None = None
    for n, citation in sorted(citations.items()):
        evidence = _evidence(citation)
        held = set(tokenize(evidence))
        share = len(added & held) / len(added)
        if (share >= REATTRIBUTE_OVERLAP and len(words & held) >= REATTRIBUTE_OVERLAP * len(words)
                and len(topic & held) >= about and not missing_figures(body, evidence)
                and (best is None or share > best[0])):
            best = (share, n)
    if best is None:
        return claim
    trial = check(Claim(claim.sentence, [best[1]]), citations)
    if not trial.supported:
        return claim
    text = MARKER.sub("", claim.sentence).rstrip()
    end = text[-1] if text and text[-1] in ".!?;:" else ""
    sentence = f"{text[:len(text) - len(end)].rstrip()} [{best[1]}]{end}"
    return Claim(sentence, [best[1]], cited_by_model=claim.markers)


def check_answer(text: str, citations: list[Citation], min_overlap: float = MIN_OVERLAP,
                 question: str | None = None) -> list[Claim]:
    """Each sentence checked against the excerpts it cites; with the question, a sentence
    that its markers do not support is re-attributed to the excerpt that holds it."""
    by_n = {c.n: c for c in citations}
    claims = [check(claim, by_n, min_overlap) for claim in split_claims(text)]
    if question is None:
        return claims
    return [reattribute(claim, by_n, question) for claim in claims]


def supporting_sentence(claim: str, citation: Citation) -> str | None:
    """The sentence of the cited excerpt that holds most of the claim: its figures first, then
    the share of its content words; None when no sentence shares a word or a figure with it.
    Shown under a generated answer, it lets a lawyer check the claim against the contract's
    own words (and keeps the figure the model paraphrased: "10 jours" for "dix (10) jours
    ouvrés")."""
    body = MARKER.sub(" ", claim)
    words, numbers = set(tokenize(body)), figures(body)
    best: tuple[int, float] | None = None
    chosen: str | None = None
    for unit in sentences(citation.excerpt):
        held = len(numbers & figures(unit, spelled=True))
        shared = len(words & set(tokenize(unit))) / len(words) if words else 0.0
        if (held or shared) and (best is None or (held, shared) > best):
            best, chosen = (held, shared), unit
    return chosen
