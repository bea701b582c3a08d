"""Rendering of answers, citations and conversations for the chat (no Gradio, no service).

Contract text is data: whatever comes from a contract is escaped before it reaches HTML
(`html.escape`) or the chat's Markdown (`_md_text`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from retrieval.models import Answer, Citation

SOURCES_PLACEHOLDER = (
    '<div class="cq-empty">Les sources de la réponse s\'afficheront ici : contrat, article, '
    "pages et extrait, avec la phrase qui fonde la réponse surlignée.</div>"
)

@dataclass
class Exchange:
    """One question of the conversation and what came back for it."""

    question: str
    documents: list[str] = field(default_factory=list)  # the contracts selected when asked
    answer: Answer | None = None
    partial: str = ""  # streamed text so far
    # What the model is doing before its first token ("Le modèle lit…"), or after its text
    # (the verifier: "Le modèle vérifie sa réponse…"), shown under the streamed text.
    status: str = ""
    error: str | None = None
    asked_at: str = field(default_factory=lambda: datetime.now().strftime("%d/%m/%Y %H:%M"))


def optional_text(value: object) -> str | None:
    """An outline field as an optional string."""
    return None if value in (None, "") else str(value)


def _md_text(text: str) -> str:
    """Contract or user text made safe for the chat's Markdown: no HTML gets through."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_pages(pages: Sequence[int]) -> str:
    """`[3]` -> "p. 3", `[3, 4]` -> "p. 3-4", `[3, 5]` -> "p. 3, 5"; "" when unknown."""
    nums = sorted({p for p in pages if p})
    if not nums:
        return ""
    if len(nums) == 1:
        return f"p. {nums[0]}"
    if nums == list(range(nums[0], nums[-1] + 1)):
        return f"p. {nums[0]}-{nums[-1]}"
    return "p. " + ", ".join(str(p) for p in nums)


_NUMBERED = re.compile(r"^(\d|[IVXLC]+\b|[A-Z]\b)")


def _article_name(article: str, short: bool = False) -> str:
    """"10.2" -> "Article 10.2" (or "art. 10.2"); unnumbered parts such as "Préambule" as is."""
    if not _NUMBERED.match(article):
        return article
    return f"{'art.' if short else 'Article'} {article}"


def article_label(section: str | None, article: str | None, heading: str | None) -> str:
    """'MSA · Article 10.2 — Limitation de responsabilité' (parts left out when unknown)."""
    parts = []
    if section:
        parts.append(section)
    if article:
        art = _article_name(article)
        parts.append(f"{art} — {heading}" if heading and heading != article else art)
    elif heading:
        parts.append(heading)
    return " · ".join(parts) or "Passage sans numéro d'article"


def citation_label(citation: Citation) -> str:
    """One line naming a source: title, section, article, heading and pages."""
    label = f"{citation.document_title} — " + article_label(
        citation.section, citation.article, citation.heading
    )
    pages = format_pages(citation.pages)
    return f"{label} ({pages})" if pages else label


def _find_span(text: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` occurs in `text`, tolerant to whitespace and line-break differences."""
    needle = needle.strip()
    if not needle:
        return None
    start = text.find(needle)
    if start >= 0:
        return start, start + len(needle)
    words = needle.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


def highlight_html(text: str, highlight: str) -> str:
    """`text` escaped for HTML, with the `highlight` sentence wrapped in <mark>."""
    span = _find_span(text, highlight)
    if span is None:
        return html.escape(text)
    start, end = span
    return (
        html.escape(text[:start])
        + '<mark class="cq-hl">'
        + html.escape(text[start:end])
        + "</mark>"
        + html.escape(text[end:])
    )


def excerpt_window(text: str, highlight: str, limit: int = 700, context: int = 260) -> str:
    """A long excerpt cut around its highlighted sentence (whole article: "Voir l'article")."""
    if len(text) <= limit:
        return text
    span = _find_span(text, highlight)
    if span is None:
        cut = text.rfind(" ", 0, limit)
        return text[: cut if cut > 0 else limit].rstrip() + " …"
    start = max(0, span[0] - context)
    end = min(len(text), span[1] + context)
    if start > 0:
        space = text.find(" ", start, span[0])
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", span[1], end)
        end = space if space >= 0 else end
    return ("… " if start > 0 else "") + text[start:end].strip() + (" …" if end < len(text) else "")


def mode_note(answer: Answer) -> str:
    """How the answer was made, in plain French (honest about generation)."""
    if answer.mode == "llm":
        model = answer.model or "modèle de langage"
        note = f"Réponse rédigée par le modèle {model} à partir des articles cités ; à vérifier."
    elif answer.mode == "llm-fallback":
        note = (
            "Le modèle de langage n'a pas pu répondre : réponse extractive, "
            "qui cite les contrats sans rien générer."
        )
    else:
        note = "Mode extractif : la réponse cite les contrats, sans texte généré."
    if answer.notice:
        note += f" {answer.notice}"
    return note


def routed_note(answer: Answer, titles: dict[str, str]) -> str:
    """A note when the question named a contract and the search was routed to it."""
    if not answer.routed:
        return ""
    names = ", ".join(titles.get(doc_id, doc_id) for doc_id in answer.routed)
    plural = "aux contrats" if len(answer.routed) > 1 else "au contrat"
    return f"Question rapportée {plural} nommé{'s' if len(answer.routed) > 1 else ''} : {names}."


_SOURCES_LINE = re.compile(r"(?m)^Sources\s*:\s*$")
_SOURCE_ITEM = re.compile(r"^\[\d+\]")


def has_sources_block(text: str) -> bool:
    """Whether the answer text already ends with its own "Sources :" list."""
    return bool(_SOURCES_LINE.search(text))


def split_sources_block(text: str) -> str:
    """The answer text without its trailing "Sources :" list (shown apart in the UI)."""
    matches = list(_SOURCES_LINE.finditer(text))
    if not matches:
        return text.strip()
    last = matches[-1]
    tail = [ln for ln in text[last.end():].splitlines() if ln.strip()]
    if not all(_SOURCE_ITEM.match(ln.strip()) for ln in tail):
        return text.strip()
    return text[: last.start()].strip()


def compact_sources(citations: Sequence[Citation]) -> list[str]:
    """One line per contract: its title, then "[n] section, art. X" for each citation."""
    groups: dict[str, list[str]] = {}
    for c in citations:
        where = ", ".join(
            p for p in (c.section, _article_name(c.article, True) if c.article else c.heading)
            if p
        )
        groups.setdefault(c.document_title, []).append(f"[{c.n}] {where or 'extrait'}")
    return [f"{title} : {' ; '.join(items)}" for title, items in groups.items()]


def answer_markdown(answer: Answer, titles: dict[str, str]) -> str:
    """The chat message for a final answer: text with [n] markers, compact sources, mode."""
    lines: list[str] = []
    note = routed_note(answer, titles)
    if note:
        lines += [f"*{_md_text(note)}*", ""]
    if answer.abstained:
        lines += ["**Aucune clause trouvée.**", ""]
    lines.append(_md_text(answer.body or split_sources_block(answer.answer)))
    if answer.citations:
        label = "Passages consultés" if answer.abstained else "Sources"
        lines += ["", f"**{label}** (détail dans le panneau « Sources ») :"]
        lines += [f"- {_md_text(line)}" for line in compact_sources(answer.citations)]
    lines += ["", f"*{_md_text(mode_note(answer))}*"]
    return "\n".join(lines)


def _cited_lines(answer: Answer) -> list[str]:
    """"[n] title — article (pages)" for each citation (when the text has no such list)."""
    return [f"[{c.n}] {citation_label(c)}" for c in answer.citations]


def answer_plaintext(answer: Answer, titles: dict[str, str] | None = None) -> str:
    """The answer with its citations as plain text, for the clipboard."""
    lines = [f"Question : {answer.question}", ""]
    note = routed_note(answer, titles or {})
    if note:
        lines += [note, ""]
    if answer.abstained:
        lines.append("Aucune clause trouvée.")
    lines.append(answer.answer.strip())
    if answer.citations and not has_sources_block(answer.answer):
        lines += ["", "Sources :", *_cited_lines(answer)]
    if answer.citations and not answer.abstained:
        lines += ["", "Extraits cités :"]
        for c in answer.citations:
            excerpt = " ".join((c.highlight or c.excerpt).split())
            if excerpt:
                lines.append(f"[{c.n}] « {excerpt} »")
    lines += ["", mode_note(answer)]
    return "\n".join(lines)


def sources_html(
    answer: Answer | None,
    articles: dict[int, str] | None = None,
    titles: dict[str, str] | None = None,
) -> str:
    """The sources panel: one card per citation, excerpt with its supporting sentence marked,
    and the whole article (from `articles`, keyed by citation number) in a fold-out block."""
    if answer is None:
        return SOURCES_PLACEHOLDER
    articles = articles or {}
    out = ['<div class="cq-sources">']
    note = routed_note(answer, titles or {})
    if note:
        out.append(f'<div class="cq-route">{html.escape(note)}</div>')
    if answer.abstained:
        out.append(
            '<div class="cq-abstain"><strong>Aucune clause trouvée.</strong> '
            "Aucun article ne répond assez précisément à la question ; "
            "reformulez-la ou élargissez la sélection de contrats.</div>"
        )
        if answer.citations:
            out.append('<div class="cq-subhead">Passages les plus proches consultés</div>')
    elif not answer.citations:
        out.append('<div class="cq-empty">Aucune source citée pour cette réponse.</div>')
    for c in answer.citations:
        pages = format_pages(c.pages)
        ref = html.escape(article_label(c.section, c.article, c.heading))
        out.append(f'<article class="cq-source" id="cq-source-{c.n}">')
        out.append(
            '<header class="cq-source-head">'
            f'<span class="cq-n">[{c.n}]</span>'
            f'<span class="cq-title">{html.escape(c.document_title)}</span>'
            + (f'<span class="cq-pages">{html.escape(pages)}</span>' if pages else "")
            + "</header>"
        )
        out.append(f'<div class="cq-ref">{ref}</div>')
        out.append('<blockquote class="cq-excerpt">'
                   f"{highlight_html(excerpt_window(c.excerpt, c.highlight), c.highlight)}"
                   "</blockquote>")
        full = articles.get(c.n, "")
        if full.strip():
            out.append(
                '<details class="cq-article"><summary>Voir l\'article complet</summary>'
                f'<div class="cq-article-text">{highlight_html(full, c.highlight)}</div>'
                "</details>"
            )
        out.append("</article>")
    out.append(f'<div class="cq-mode">{html.escape(mode_note(answer))}</div>')
    out.append("</div>")
    return "".join(out)


def exchange_markdown(exchange: Exchange, titles: dict[str, str]) -> str:
    """The chat message of one exchange, whether streaming, answered or failed."""
    if exchange.error:
        return f"**Erreur.** {_md_text(exchange.error)}"
    if exchange.answer is not None:
        return answer_markdown(exchange.answer, titles)
    if exchange.partial:
        after = f"\n\n*{_md_text(exchange.status)}*" if exchange.status else ""
        return _md_text(exchange.partial) + " ▍" + after
    if exchange.status:
        return f"*{_md_text(exchange.status)}*"
    return "*Recherche dans les contrats…*"


def chat_messages(exchanges: Sequence[Exchange], titles: dict[str, str]) -> list[dict[str, str]]:
    """The Chatbot value (Gradio 6 messages format) for the whole conversation."""
    messages: list[dict[str, str]] = []
    for ex in exchanges:
        messages.append({"role": "user", "content": _md_text(ex.question)})
        messages.append({"role": "assistant", "content": exchange_markdown(ex, titles)})
    return messages


def conversation_markdown(exchanges: Sequence[Exchange], titles: dict[str, str]) -> str:
    """The whole conversation as a Markdown document, with each answer's sources."""
    now = datetime.now().strftime("%d/%m/%Y %H:%M")
    out = [f"# Conversation ContractQA — exportée le {now}", ""]
    for i, ex in enumerate(exchanges, 1):
        out += [f"## Question {i} ({ex.asked_at})", "", f"> {ex.question}", ""]
        if ex.documents:
            names = ", ".join(titles.get(d, d) for d in ex.documents)
            out += [f"*Contrats interrogés : {names}*", ""]
        if ex.error:
            out += [f"**Erreur :** {ex.error}", ""]
            continue
        answer = ex.answer
        if answer is None:
            out += ["*(réponse interrompue)*", ""]
            continue
        note = routed_note(answer, titles)
        if note:
            out += [f"*{note}*", ""]
        out.append("### Réponse")
        out.append("")
        if answer.abstained:
            out += ["**Aucune clause trouvée.**", ""]
        out += [answer.answer.strip(), ""]
        if answer.citations and not has_sources_block(answer.answer):
            out += ["Sources :", *_cited_lines(answer), ""]
        if answer.citations and not answer.abstained:
            out += ["### Extraits cités", ""]
            for c in answer.citations:
                out.append(f"- **[{c.n}]** {citation_label(c)}")
                excerpt = " ".join(c.excerpt.split())
                if excerpt:
                    out.append(f"  > {excerpt}")
            out.append("")
        out += [f"*{mode_note(answer)}*", ""]
    return "\n".join(out).rstrip() + "\n"

