"""Turn a model's raw output into the answer shown: abstention, supported sentences, or the
extractive fallback. The chain streams; this module decides."""

from __future__ import annotations

from retrieval.abstention import says_silent
from retrieval.extractive import source_line
from retrieval.models import Answer, Citation
from retrieval.prompts import AnswerPrompt
from retrieval.support import check_answer

ABSTAIN = "Les contrats indexés ne contiennent pas de clause sur ce point."
NO_SUPPORT = ("Aucune phrase de la réponse générée n'était appuyée par l'extrait qu'elle cite : "
              "réponse extractive affichée à la place.")


def consulted_block(citations: list[Citation]) -> str:
    return "Passages consultés :\n" + "\n".join(source_line(c) for c in citations)


def settle(raw: str, used: list[Citation], fallback: Answer, prompt: AnswerPrompt,
           model: str | None) -> Answer:
    """The answer to show for the model's output `raw`, given the excerpts it was shown.

    - The model says the contracts are silent (its verdict line, or in its own words with no
      supported sentence): an abstention listing the passages consulted.
    - Otherwise each sentence must cite an excerpt that supports it; unsupported sentences
      are removed and listed in `unsupported`. With none left, the extractive answer is shown.
    """
    draft = prompt.parse(raw)
    claims = check_answer(draft.text, used)
    supported = [c for c in claims if c.supported and c.markers]
    unsupported = [c.to_json() for c in claims if not c.supported]
    base = Answer(fallback.question, "", False, "llm", used, model=model,
                  routed=fallback.routed, verdict=draft.verdict)
    if draft.verdict == "not_found" or (not supported and says_silent(draft.text)):
        base.answer = f"{ABSTAIN}\n\n{consulted_block(used)}"
        base.abstained = True
        return base
    if not supported:
        return Answer(fallback.question, fallback.answer, fallback.abstained, "llm-fallback",
                      fallback.citations, model=model, routed=fallback.routed, notice=NO_SUPPORT,
                      unsupported=unsupported, verdict=draft.verdict)
    kept = [c for c in claims if c.supported]
    cited = sorted({n for c in supported for n in c.markers})
    sources = [c for c in used if c.n in cited]
    base.answer = (" ".join(c.sentence for c in kept) + "\n\nSources :\n"
                   + "\n".join(source_line(c) for c in sources))
    base.unsupported = unsupported
    if unsupported:
        removed = len(unsupported)
        base.notice = (f"{removed} phrase{'s' if removed > 1 else ''} de la réponse générée "
                       f"retirée{'s' if removed > 1 else ''} faute d'appui dans l'extrait cité.")
    return base
