"""Generate an answer with a chat model, streamed, and turn the model's raw output into the
answer shown: abstention, supported sentences, or the extractive fallback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from langchain_core.language_models import BaseChatModel

from ingest.chunking import count_tokens
from retrieval.abstention import says_silent
from retrieval.extractive import source_line
from retrieval.judge import (
    JudgeConfig,
    JudgePrompt,
    VerifierConfig,
    VerifierPrompt,
    proposal,
    run_judge,
)
from retrieval.models import Answer, Citation, Judgement, Quote
from retrieval.prompts import ABSTAIN, MARKER, AnswerPrompt, fence_excerpts
from retrieval.support import Claim, check_answer, supporting_sentence

if TYPE_CHECKING:
    from retrieval.planner import Retrieved

NO_SUPPORT = ("Aucune phrase de la réponse générée n'était appuyée par l'extrait qu'elle cite : "
              "réponse extractive affichée à la place.")
# Shown while the model reads the excerpts, before its first token (LLM mode only).
READING = "Le modèle lit les extraits…"
# Shown while the verifier reads the answer against the passages it cites (LLM mode).
CHECKING = "Le modèle vérifie sa réponse au regard des passages cités…"
# Under a generated answer, each cited excerpt's sentence that holds its claims, verbatim.
QUOTED = "Passages cités (texte exact du contrat) :"
log = logging.getLogger(__name__)


@dataclass
class AnswerEvent:
    """A streamed piece of an answer: in LLM mode a status first (the model is reading), then
    text deltas, then the final validated answer."""

    kind: Literal["status", "delta", "answer"]
    text: str = ""
    answer: Answer | None = None


class Generator:
    """The answer written by a chat model from the retrieved excerpts, streamed; the prompt
    owns the output contract (its verdict line, markers) and `settle` checks the result. With
    a judge, the model first says whether the top excerpts answer at all; with a verifier, it
    then says whether the passages its answer cites establish that answer."""

    def __init__(self, llm: BaseChatModel, prompt: AnswerPrompt, context_tokens: int,
                 model_name: str | None, judge: JudgeConfig | None = None,
                 judge_prompt: JudgePrompt | None = None, excerpts: int = 5,
                 verifier: VerifierConfig | None = None,
                 verifier_prompt: VerifierPrompt | None = None) -> None:
        if excerpts < 1:
            raise ValueError("the model must read at least one excerpt")
        self.llm = llm
        self.excerpts = excerpts
        self.prompt = prompt
        self.context_tokens = context_tokens
        self.model_name = model_name
        self.judge = judge
        self.judge_prompt = judge_prompt or JudgePrompt()
        self.verifier = verifier
        self.verifier_prompt = verifier_prompt or VerifierPrompt()

    def stream(self, question: str, retrieved: Retrieved, fallback: Answer
               ) -> Iterator[AnswerEvent]:
        """The status while the model reads, the judge's yes/no, then the generated answer
        (or the judge's abstention); the final answer carries the judgement."""
        yield AnswerEvent("status", READING)
        judgement = self.judged(question, retrieved, fallback.citations)
        if judgement is not None and judgement.abstains:
            events = replay(judged_silent(fallback, retrieved, judgement, self.model_name))
        else:
            events = self.generate(question, retrieved, fallback, judgement)
        for event in events:
            if event.answer is not None:
                event.answer.judge = judgement
            yield event

    def judged(self, question: str, retrieved: Retrieved,
               highlighted: list[Citation] | None = None) -> Judgement | None:
        """Whether the top excerpts answer the question, in the model's view (searched answers
        only: an article lookup, a comparison or a definition is not judged). `highlighted`:
        the extractive answer's citations, each with its sentence closest to the question."""
        config = self.judge
        if config is None or retrieved.kind != "search" or retrieved.defined_term:
            return None
        top = (highlighted or retrieved.citations)[: config.passages]
        if config.sentences:
            top = [replace(c, excerpt=c.highlight) if c.highlight.strip() else c for c in top]
        context, _used = fence_excerpts(top, config.tokens, question)
        asked = self.prompt.question(question, retrieved.previous)
        return self._yes_no("judge", self.judge_prompt, asked, context, config.threshold)

    def verified(self, question: str, answer: Answer) -> Judgement | None:
        """Whether the passages a generated answer cites establish it, in the model's view
        (None without a verifier, or for an answer not written by the model)."""
        config = self.verifier
        if config is None or answer.mode != "llm" or answer.abstained or not answer.body:
            return None
        context = verifier_context(answer, config, question)
        return self._yes_no("verifier", self.verifier_prompt, proposal(question, answer.body),
                            context, config.threshold)

    def _yes_no(self, role: str, prompt: JudgePrompt, asked: str, context: str,
                threshold: float) -> Judgement:
        """The model's « oui »/« non » on `asked` over `context`, with the threshold it is
        held to; a failed call is a judgement from nowhere ("error"), never a refusal."""
        try:
            found = run_judge(self.llm, prompt, asked, context)
        except Exception as exc:  # noqa: BLE001 - the answer goes on, unjudged or unverified
            log.warning("LLM %s failed: %r", role, exc)
            found = Judgement(None, "error")
        return replace(found, threshold=threshold)

    def generate(self, question: str, retrieved: Retrieved, fallback: Answer,
                 judgement: Judgement | None = None) -> Iterator[AnswerEvent]:
        shown_citations = read_by_model(retrieved, fallback, self.excerpts)
        context, used = self.prompt.context(shown_citations, self.context_tokens, question)
        inputs = {"context": context,
                  "question": self.prompt.question(question, retrieved.previous)}
        template = self.prompt.template()
        parts: list[str] = []
        prompt_tokens: int | None = None
        shown = self.prompt.stream_filter()  # the verdict line is read, not shown
        fmt = self.prompt.response_format()
        model = self.llm.bind(response_format=fmt) if fmt else self.llm
        try:
            for chunk in (template | model).stream(inputs):
                usage = getattr(chunk, "usage_metadata", None)
                if usage:
                    prompt_tokens = int(usage.get("input_tokens") or 0) or prompt_tokens
                delta = chunk.content if isinstance(chunk.content, str) else ""
                parts.append(delta)
                if text := shown.feed(delta):
                    yield AnswerEvent("delta", text)
        except Exception as exc:  # noqa: BLE001 - any model/server failure: show the quotes
            log.warning("LLM failed: %r", exc)
            yield AnswerEvent("answer", answer=self.fallback(
                fallback, f"Le modèle n'a pas répondu ({_why(exc)}) : réponse extractive "
                          "affichée à la place."))
            return
        if text := shown.flush():
            yield AnswerEvent("delta", text)
        answer = settle("".join(parts), used, fallback, self.prompt, self.model_name)
        answer = unsupported_silent(answer, judgement,
                                    self.judge.unsupported_threshold if self.judge else None)
        if self.verifier is not None and answer.mode == "llm" and not answer.abstained:
            yield AnswerEvent("status", CHECKING)
            verification = self.verified(inputs["question"], answer)
            if verification is not None and verification.abstains:
                answer = verified_silent(answer, verification)
            answer.verification = verification
        answer.draft = "".join(parts)
        # The server's count when it reports usage, else tiktoken's count of the messages.
        answer.prompt_tokens = prompt_tokens or sum(
            count_tokens(str(m.content)) for m in template.format_messages(**inputs))
        yield AnswerEvent("answer", answer=answer)

    def fallback(self, extractive: Answer, notice: str) -> Answer:
        return replace(extractive, mode="llm-fallback", model=self.model_name, notice=notice)


def read_by_model(retrieved: Retrieved, fallback: Answer, excerpts: int) -> list[Citation]:
    """The excerpts offered to the model: the extractive answer's citations (the same, with
    their highlighted sentence), the top `excerpts` of a search; a lookup or a comparison
    gives each of its own."""
    citations = fallback.citations or retrieved.citations
    return citations[:excerpts] if retrieved.kind == "search" else citations


def judged_silent(fallback: Answer, retrieved: Retrieved, judgement: Judgement,
                  model: str | None) -> Answer:
    """The abstention when the judge says the excerpts do not answer."""
    citations = fallback.citations or retrieved.citations
    p, t = judgement.probability or 0.0, judgement.threshold or 0.0
    notice = (f"Le modèle juge que les extraits ne répondent pas à la question "
              f"(probabilité {_percent(p)}, seuil {_percent(t)}).")
    return Answer(fallback.question, f"{ABSTAIN}\n\n{consulted_block(citations)}", True,
                  "llm", citations, model=model, routed=fallback.routed, notice=notice,
                  body=ABSTAIN)


def unsupported_silent(answer: Answer, judgement: Judgement | None,
                       threshold: float | None) -> Answer:
    """When no sentence of the model's answer was supported (`settle` falls back to the
    extractive answer), the abstention if the judge's P(« oui ») is below `threshold`: the
    model's failure to write a supported answer and a doubtful judge together say the
    excerpts do not answer. Any other answer, or no threshold, is returned as it is."""
    p = judgement.probability if judgement is not None else None
    if answer.mode != "llm-fallback" or answer.notice != NO_SUPPORT or threshold is None or (
            p is None or p >= threshold):
        return answer
    notice = (f"Aucune phrase de la réponse générée n'était appuyée par les extraits, et le "
              f"modèle doute qu'ils répondent à la question (probabilité {_percent(p)}, seuil "
              f"{_percent(threshold)}) : il s'abstient.")
    return replace(answer, answer=f"{ABSTAIN}\n\n{consulted_block(answer.citations)}",
                   abstained=True, mode="llm", body=ABSTAIN, quotes=[], notice=notice)


def verifier_context(answer: Answer, config: VerifierConfig, question: str) -> str:
    """What the verifier reads: the excerpts the answer cites, cut to the sentences sharing
    words with the question and the answer, or with `config.quotes` only the sentences quoted
    under it."""
    cited = {q.citation for q in answer.quotes} | _markers(answer.body)
    sources = [c for c in answer.citations if c.n in cited] or answer.citations
    if config.quotes and answer.quotes:
        sources = [replace(c, excerpt=" ".join(q.sentence for q in answer.quotes
                                               if q.citation == c.n))
                   for c in sources if any(q.citation == c.n for q in answer.quotes)]
        return fence_excerpts(sources, config.tokens)[0]
    return fence_excerpts(sources, config.tokens, f"{question} {answer.body}")[0]


def verified_silent(answer: Answer, verification: Judgement) -> Answer:
    """The abstention when the verifier says the cited passages do not establish the answer:
    the passages consulted, and the refused answer kept aside (`unsupported`) for review."""
    p, t = verification.probability or 0.0, verification.threshold or 0.0
    notice = (f"Le modèle juge que les passages cités n'établissent pas sa réponse "
              f"(probabilité {_percent(p)}, seuil {_percent(t)}) : il s'abstient.")
    return replace(answer, answer=f"{ABSTAIN}\n\n{consulted_block(answer.citations)}",
                   abstained=True, body=ABSTAIN, quotes=[], notice=notice,
                   unsupported=[*answer.unsupported, {
                       "sentence": answer.body,
                       "markers": sorted(_markers(answer.body)),
                       "reason": "réponse non établie par les passages cités (vérification)"}])


def _markers(text: str) -> set[int]:
    return {int(m) for m in MARKER.findall(text)}


def _percent(value: float) -> str:
    return f"{round(100 * value)} %"


def replay(answer: Answer) -> Iterator[AnswerEvent]:
    """An answer already composed, streamed word by word."""
    for piece in re.findall(r"\S+\s*", answer.answer):
        yield AnswerEvent("delta", piece)
    yield AnswerEvent("answer", answer=answer)


def _why(exc: Exception) -> str:
    """Why the model failed, in French and without class names (the log keeps the detail)."""
    name = type(exc).__name__.lower()
    if "timeout" in name or isinstance(exc, TimeoutError):
        return "délai dépassé"
    if "connect" in name or isinstance(exc, ConnectionError):
        return "serveur injoignable"
    if "auth" in name or "permission" in name:
        return "accès refusé par le serveur du modèle"
    return "erreur du serveur du modèle"


def consulted_block(citations: list[Citation]) -> str:
    return "Passages consultés :\n" + "\n".join(source_line(c) for c in citations)


def settle(raw: str, used: list[Citation], fallback: Answer, prompt: AnswerPrompt,
           model: str | None) -> Answer:
    """The answer to show for the model's output `raw`, given the excerpts it was shown.

    - The model says the contracts are silent (its verdict line, or in its own words with no
      supported sentence): an abstention listing the passages consulted.
    - Otherwise each sentence must cite an excerpt that supports it; a sentence whose marker
      points at the wrong excerpt cites the one that holds it (listed in `reattributed`);
      unsupported sentences are removed and listed in `unsupported`. With none left, the
      extractive answer is shown.
    """
    draft = prompt.parse(raw)
    claims = check_answer(draft.text, used, question=fallback.question)
    supported = [c for c in claims if c.supported and c.markers]
    unsupported = [c.to_json() for c in claims if not c.supported]
    base = Answer(fallback.question, "", False, "llm", used, model=model,
                  routed=fallback.routed, verdict=draft.verdict)
    if draft.verdict == "not_found" or (not supported and says_silent(draft.text)):
        base.answer = f"{ABSTAIN}\n\n{consulted_block(used)}"
        base.body = ABSTAIN
        base.abstained = True
        return base
    if not supported:
        return replace(fallback, mode="llm-fallback", model=model, notice=NO_SUPPORT,
                       unsupported=unsupported, verdict=draft.verdict)
    kept = [c for c in claims if c.supported]
    cited = sorted({n for c in supported for n in c.markers})
    sources = [c for c in used if c.n in cited]
    base.body = " ".join(c.sentence for c in kept)
    base.quotes = supporting_quotes(supported, used)
    quoted = "".join(f"\n- « {q.sentence} » [{q.citation}]" for q in base.quotes)
    base.answer = (base.body + (f"\n\n{QUOTED}{quoted}" if quoted else "")
                   + "\n\nSources :\n" + "\n".join(source_line(c) for c in sources))
    base.unsupported = unsupported
    base.reattributed = [c.to_json() for c in kept if c.cited_by_model is not None]
    if unsupported:
        removed = len(unsupported)
        base.notice = (f"{removed} phrase{'s' if removed > 1 else ''} de la réponse générée "
                       f"retirée{'s' if removed > 1 else ''} faute d'appui dans l'extrait cité.")
    return base


def supporting_quotes(claims: list[Claim], used: list[Citation]) -> list[Quote]:
    """For each supported claim and each excerpt it cites, the excerpt's sentence holding it
    (`supporting_sentence`); then, for each excerpt cited, its sentence closest to the
    question (its extractive highlight), when not already quoted: where the model paraphrased
    beside the point of the clause it cites, the lawyer still reads what that clause says on
    the question. Once each, in the order the answer cites them; never an excerpt uncited."""
    by_n = {c.n: c for c in used}
    quotes: list[Quote] = []

    def add(n: int, sentence: str | None) -> None:
        if sentence and all((q.citation, q.sentence) != (n, sentence) for q in quotes):
            quotes.append(Quote(n, sentence))

    cited: list[int] = []
    for claim in claims:
        for n in claim.markers:
            if n in by_n:
                add(n, supporting_sentence(claim.sentence, by_n[n]))
                cited += [n] if n not in cited else []
    for n in cited:
        add(n, by_n[n].highlight.strip() or None)
    return quotes
