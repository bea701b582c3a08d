"""The lawyers' web app: a French Gradio chat over the contracts, mounted on the REST API.

The UI stays thin: every handler calls the `ContractQA` facade; this module only renders.
Contract text is data: whatever comes from a contract is escaped before it reaches HTML
(`html.escape`) or the chat's Markdown (`_md_text`).

Entry points: `build_ui(service)`, `create_app(settings, service)` and `serve(settings)`.
"""

from __future__ import annotations

import html
import logging
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from contractqa.settings import Settings
from retrieval.models import Answer, Citation, Turn

if TYPE_CHECKING:
    from fastapi import FastAPI

    from contractqa.service import ContractQA, IngestReport

log = logging.getLogger("contractqa.app")

UPLOAD_TYPES = [".pdf", ".docx", ".txt", ".md"]

# Messages shown to the user (French, no tracebacks).
MSG_EMPTY_QUESTION = "Saisissez une question avant d'envoyer."
MSG_NO_DOCUMENTS = (
    "Aucun contrat n'est indexé. Ajoutez un contrat dans l'onglet « Contrats » "
    "avant de poser une question."
)
MSG_ANSWER_FAILED = (
    "La réponse n'a pas pu être produite à la suite d'une erreur interne. "
    "Réessayez ; si le problème persiste, consultez les journaux du serveur."
)
MSG_NO_FILES = "Choisissez d'abord un ou plusieurs fichiers (PDF, DOCX ou texte)."
MSG_INGEST_FAILED = (
    "L'indexation a échoué à la suite d'une erreur interne. "
    "Aucun fichier n'a été ajouté ; consultez les journaux du serveur."
)
MSG_NO_CONTRACT_SELECTED = "Choisissez d'abord un contrat dans la liste."
MSG_NOTHING_TO_COPY = "Aucune réponse à copier pour l'instant."

SOURCES_PLACEHOLDER = (
    '<div class="cq-empty">Les sources de la réponse s\'afficheront ici : contrat, article, '
    "pages et extrait, avec la phrase qui fonde la réponse surlignée.</div>"
)


# ---------------------------------------------------------------------------------------------
# Pure rendering helpers (no Gradio, no service: testable in process)
# ---------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One question of the conversation and what came back for it."""

    question: str
    documents: list[str] = field(default_factory=list)  # the contracts selected when asked
    answer: Answer | None = None
    partial: str = ""  # streamed text so far
    error: str | None = None
    asked_at: str = field(default_factory=lambda: datetime.now().strftime("%d/%m/%Y %H:%M"))


def _opt(value: object) -> str | None:
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
    lines.append(_md_text(split_sources_block(answer.answer)))
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
        return _md_text(exchange.partial) + " ▍"
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


def _clean_message(message: str, path: Path) -> str:
    """An ingest message without the server-side temporary path of the uploaded file."""
    message = message.replace(str(path), path.name).strip()
    prefix = f"{path.name}:"
    return message[len(prefix):].strip() if message.startswith(prefix) else message


_ARTICLES_ONLY = re.compile(r"\d+ articles?\.?")


def ingest_report_html(report: IngestReport) -> str:
    """Per-file results of an upload: articles found, unchanged, or a clear error."""
    rows = []
    for r in report.results:
        name = html.escape(Path(r.path).name)
        if r.status == "indexed":
            icon, cls = "✓", "ok"
            text = f"{r.articles} article(s) trouvé(s), {r.chunks} passage(s) indexé(s)."
        elif r.status == "unchanged":
            icon, cls = "=", "same"
            text = "Déjà indexé à l'identique : rien à faire."
        else:
            icon, cls = "✗", "err"
            text = _clean_message(r.message, Path(r.path)) or "Le fichier n'a pas pu être lu."
        extra = _clean_message(r.message, Path(r.path)) if r.status != "error" else ""
        if extra and not _ARTICLES_ONLY.fullmatch(extra):
            text += " " + extra
        rows.append(
            f'<li class="cq-file cq-{cls}"><span class="cq-icon">{icon}</span>'
            f'<span class="cq-fname">{name}</span> '
            f'<span class="cq-fmsg">{html.escape(text)}</span></li>'
        )
    return f'<ul class="cq-files">{"".join(rows)}</ul>'


def documents_html(documents: Sequence[Any]) -> str:
    """The indexed contracts as a table (title, identifier, articles, passages)."""
    if not documents:
        return '<div class="cq-empty">Aucun contrat indexé pour l\'instant.</div>'
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(d.title)}</td>"
        f"<td><code>{html.escape(d.document_id)}</code></td>"
        f'<td class="cq-num">{int(d.articles)}</td>'
        f'<td class="cq-num">{int(d.chunks)}</td>'
        "</tr>"
        for d in documents
    )
    return (
        '<table class="cq-table"><thead><tr><th>Contrat</th><th>Identifiant</th>'
        '<th class="cq-num">Articles</th><th class="cq-num">Passages</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def outline_html(title: str, outline: Sequence[dict[str, Any]]) -> str:
    """A contract's articles in reading order: section, number, heading, pages."""
    if not outline:
        return '<div class="cq-empty">Aucun article repéré dans ce contrat.</div>'
    rows = []
    for item in outline:
        pages = format_pages([int(p) for p in item.get("pages") or []])
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(item.get('section') or ''))}</td>"
            f"<td>{html.escape(str(item.get('article') or ''))}</td>"
            f"<td>{html.escape(str(item.get('heading') or ''))}</td>"
            f"<td>{html.escape(pages)}</td>"
            "</tr>"
        )
    return (
        f'<div class="cq-outline-title">{html.escape(title)} — {len(outline)} article(s)</div>'
        '<div class="cq-outline"><table class="cq-table"><thead><tr><th>Partie</th>'
        "<th>Article</th><th>Intitulé</th><th>Pages</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def outline_choices(outline: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices (label, value) for the articles of an outline; value = index."""
    choices = []
    for i, item in enumerate(outline):
        if not item.get("article"):
            continue
        label = article_label(
            _opt(item.get("section")), _opt(item.get("article")), _opt(item.get("heading"))
        )
        choices.append((label, str(i)))
    return choices


def article_html(label: str, text: str) -> str:
    """The whole text of one article, escaped, line breaks kept."""
    if not text.strip():
        return '<div class="cq-empty">Le texte de cet article est introuvable dans l\'index.</div>'
    return (
        f'<div class="cq-article-view"><div class="cq-subhead">{html.escape(label)}</div>'
        f'<div class="cq-article-text">{html.escape(text)}</div></div>'
    )


def document_choices(documents: Sequence[Any]) -> list[tuple[str, str]]:
    """Selector choices (title, id); duplicate titles get their id appended."""
    counts: dict[str, int] = {}
    for d in documents:
        counts[d.title] = counts.get(d.title, 0) + 1
    return [
        (d.title if counts[d.title] == 1 else f"{d.title} ({d.document_id})", d.document_id)
        for d in documents
    ]


# ---------------------------------------------------------------------------------------------
# Handlers: each calls the facade and returns what the components show
# ---------------------------------------------------------------------------------------------


class UIHandlers:
    """The event handlers of the UI, kept apart from the layout so tests can call them."""

    def __init__(self, service: ContractQA) -> None:
        self.service = service

    # Shared ------------------------------------------------------------------------------
    def titles(self) -> dict[str, str]:
        return {d.document_id: d.title for d in self.service.documents()}

    def _article_texts(self, answer: Answer) -> dict[int, str]:
        texts: dict[int, str] = {}
        for c in answer.citations:
            try:
                texts[c.n] = self.service.article_text(c.document_id, c.section, c.article)
            except Exception:  # a missing article only hides the fold-out block
                log.exception("article_text failed for %s %s", c.document_id, c.article)
        return texts

    def render_sources(self, answer: Answer | None) -> str:
        if answer is None:
            return SOURCES_PLACEHOLDER
        return sources_html(answer, self._article_texts(answer), self.titles())

    # Chat --------------------------------------------------------------------------------
    def respond(
        self, question: str, selected: list[str] | None, exchanges: list[Exchange] | None
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer. Yields (chat, exchanges, question box, sources, copy text)."""
        exchanges = list(exchanges or [])
        question = (question or "").strip()
        titles = self.titles()
        if not question:
            gr.Warning(MSG_EMPTY_QUESTION, title="Question vide")
            yield chat_messages(exchanges, titles), exchanges, "", gr.skip(), gr.skip()
            return
        if not titles:
            gr.Warning(MSG_NO_DOCUMENTS, title="Aucun contrat")
            yield chat_messages(exchanges, titles), exchanges, question, gr.skip(), gr.skip()
            return
        documents = [d for d in (selected or []) if d in titles]
        history = [
            Turn(question=ex.question, answer=ex.answer.answer,
                 documents=list(ex.answer.routed or ex.documents))
            for ex in exchanges
            if ex.answer is not None
        ]
        current = Exchange(question=question, documents=documents)
        exchanges.append(current)
        waiting = '<div class="cq-empty">Recherche des articles pertinents…</div>'
        yield chat_messages(exchanges, titles), exchanges, "", waiting, ""
        try:
            for event in self.service.stream(question, documents or None, history):
                if event.kind == "delta" and event.text:
                    current.partial += event.text
                    yield chat_messages(exchanges, titles), exchanges, "", gr.skip(), ""
                elif event.answer is not None:
                    current.answer = event.answer
            if current.answer is None:
                raise RuntimeError("stream ended without a final answer")
            sources = self.render_sources(current.answer)
            copy = answer_plaintext(current.answer, titles)
        except Exception:
            log.exception("answering %r failed", question)
            current.error = MSG_ANSWER_FAILED
            current.answer = None
            gr.Warning(MSG_ANSWER_FAILED, title="Erreur")
            sources, copy = SOURCES_PLACEHOLDER, ""
        yield chat_messages(exchanges, titles), exchanges, "", sources, copy

    def select_message(
        self, exchanges: list[Exchange] | None, evt: gr.SelectData
    ) -> tuple[Any, Any]:
        """Clicking a message shows the sources of that exchange's answer."""
        exchanges = exchanges or []
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        try:
            exchange = exchanges[int(index) // 2]
        except (IndexError, TypeError, ValueError):
            return gr.skip(), gr.skip()
        if exchange.answer is None:
            return gr.skip(), gr.skip()
        answer = exchange.answer
        return self.render_sources(answer), answer_plaintext(answer, self.titles())

    def export(self, exchanges: list[Exchange] | None) -> str | None:
        """Write the conversation to a Markdown file and return its path (None when empty)."""
        if not exchanges:
            return None
        folder = Path(tempfile.mkdtemp(prefix="contractqa-export-"))
        path = folder / f"conversation-{datetime.now().strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(conversation_markdown(exchanges, self.titles()), encoding="utf-8")
        return str(path)

    def after_answer(self, exchanges: list[Exchange] | None) -> Any:
        """Refresh the export button once an answer is complete."""
        path = self.export(exchanges)
        return gr.DownloadButton(value=path, interactive=path is not None)

    def copied(self, text: str) -> None:
        if text:
            gr.Info("La réponse et ses sources ont été copiées.", title="Copié")
        else:
            gr.Warning(MSG_NOTHING_TO_COPY, title="Rien à copier")

    def clear(self) -> tuple[Any, ...]:
        return [], [], SOURCES_PLACEHOLDER, "", gr.DownloadButton(value=None, interactive=False)

    # Contracts ---------------------------------------------------------------------------
    def _contract_updates(self, keep: str | None = None) -> tuple[Any, Any, Any]:
        """Selector, table and outline-picker after the list of contracts changed."""
        docs = self.service.documents()
        choices = document_choices(docs)
        ids = {d.document_id for d in docs}
        return (
            gr.Dropdown(choices=choices),
            documents_html(docs),
            gr.Dropdown(choices=choices, value=keep if keep in ids else None),
        )

    def refresh(self, selected: list[str] | None) -> tuple[Any, Any, Any]:
        docs = self.service.documents()
        choices = document_choices(docs)
        ids = {d.document_id for d in docs}
        kept = [d for d in (selected or []) if d in ids]
        return (
            gr.Dropdown(choices=choices, value=kept, multiselect=True),
            documents_html(docs),
            gr.Dropdown(choices=choices),
        )

    def upload(
        self,
        files: list[Any] | None,
        progress: gr.Progress | None = gr.Progress(),  # noqa: B008 (Gradio's progress marker)
    ) -> tuple[Any, ...]:
        """Ingest uploaded files; returns (report, selector, table, picker, file box)."""
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", str(f))) for f in files or []]
        if not paths:
            gr.Warning(MSG_NO_FILES, title="Aucun fichier")
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())

        def on_progress(message: str, fraction: float) -> None:
            if progress is not None:
                progress(max(0.0, min(1.0, fraction)), desc=message)

        try:
            if progress is not None:
                progress(0.0, desc="Lecture des fichiers…")
            report = self.service.ingest(paths, progress=on_progress)
        except Exception:
            log.exception("ingest of %s failed", [p.name for p in paths])
            raise gr.Error(MSG_INGEST_FAILED, title="Erreur", print_exception=False) from None
        indexed = [r for r in report.results if r.status == "indexed"]
        failed = [r for r in report.results if r.status == "error"]
        if indexed:
            gr.Info(f"{len(indexed)} contrat(s) indexé(s) : interrogeables dès maintenant.",
                    title="Indexation terminée")
        if failed:
            gr.Warning(f"{len(failed)} fichier(s) n'ont pas pu être indexés (voir le détail).",
                       title="Attention")
        keep = indexed[-1].document_id if indexed else None
        selector, table, picker = self._contract_updates(keep)
        return ingest_report_html(report), selector, table, picker, None

    def show_outline(self, document_id: str | None) -> tuple[str, Any, str]:
        """The outline of one contract and the article picker filled from it."""
        empty_article = ""
        if not document_id:
            return "", gr.Dropdown(choices=[], value=None), empty_article
        titles = self.titles()
        try:
            outline = self.service.outline(document_id)
        except KeyError:
            gr.Warning("Ce contrat n'est plus dans l'index.", title="Contrat introuvable")
            return "", gr.Dropdown(choices=[], value=None), empty_article
        return (
            outline_html(titles.get(document_id, document_id), outline),
            gr.Dropdown(choices=outline_choices(outline), value=None),
            empty_article,
        )

    def show_article(self, document_id: str | None, choice: str | None) -> str:
        """The whole text of the article picked in the outline."""
        if not document_id or choice in (None, ""):
            return ""
        try:
            item = self.service.outline(document_id)[int(str(choice))]
            section, article = _opt(item.get("section")), _opt(item.get("article"))
            text = self.service.article_text(document_id, section, article)
        except (KeyError, IndexError, ValueError):
            gr.Warning("Cet article est introuvable dans l'index.", title="Article introuvable")
            return ""
        return article_html(article_label(section, article, _opt(item.get("heading"))), text)

    def delete(self, document_id: str | None, confirmed: bool, selected: list[str] | None
               ) -> tuple[Any, ...]:
        """Remove a contract from the index (after the browser's confirmation)."""
        if not document_id:
            gr.Warning(MSG_NO_CONTRACT_SELECTED, title="Aucun contrat")
            return (gr.skip(),) * 6
        if not confirmed:
            return (gr.skip(),) * 6
        title = self.titles().get(document_id, document_id)
        try:
            deleted = self.service.delete(document_id)
        except Exception:
            log.exception("delete of %s failed", document_id)
            raise gr.Error("La suppression a échoué à la suite d'une erreur interne.",
                           title="Erreur", print_exception=False) from None
        if deleted:
            gr.Info(f"« {html.escape(title)} » a été retiré de l'index.", title="Contrat retiré")
        else:
            gr.Warning("Ce contrat n'était plus dans l'index.", title="Contrat introuvable")
        selector, table, picker = self.refresh([d for d in (selected or []) if d != document_id])
        return selector, table, picker, "", gr.Dropdown(choices=[], value=None), ""


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------

UI_CSS = """
.gradio-container { max-width: 1400px !important; margin: 0 auto; }
.cq-header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap;
  padding: .25rem 0 .5rem; border-bottom: 1px solid var(--border-color-primary); }
.cq-header h1 { margin: 0; font-size: 1.55rem; font-weight: 700; letter-spacing: -.01em; }
.cq-header p { margin: 0; color: var(--body-text-color-subdued); }
.cq-badge { margin-left: auto; font-size: .8rem; padding: .2rem .6rem; border-radius: 999px;
  border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued); }
.cq-panel-title { font-weight: 600; font-size: 1rem; margin: 0 0 .4rem; }
.cq-sources { display: flex; flex-direction: column; gap: .7rem; max-height: 78vh;
  overflow-y: auto; padding-right: .25rem; }
.cq-source { border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: .7rem .85rem; background: var(--block-background-fill); }
.cq-source-head { display: flex; align-items: baseline; gap: .5rem; }
.cq-n { font-weight: 700; color: var(--color-accent); }
.cq-title { font-weight: 600; flex: 1; }
.cq-pages { font-size: .8rem; color: var(--body-text-color-subdued); white-space: nowrap; }
.cq-ref { font-size: .88rem; margin: .2rem 0 .4rem; color: var(--body-text-color-subdued); }
.cq-excerpt { margin: 0; padding: .45rem .7rem; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); font-size: .9rem; line-height: 1.5;
  white-space: pre-wrap; border-radius: 0 6px 6px 0; }
mark.cq-hl { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.cq-article { margin-top: .45rem; font-size: .88rem; }
.cq-article summary { cursor: pointer; color: var(--color-accent); font-weight: 500; }
.cq-article-text { white-space: pre-wrap; line-height: 1.5; margin-top: .4rem;
  max-height: 360px; overflow-y: auto; padding: .5rem .7rem; font-size: .88rem;
  border: 1px solid var(--border-color-primary); border-radius: 6px; }
.cq-route { padding: .45rem .7rem; border-radius: 8px; font-size: .9rem;
  background: var(--background-fill-secondary); border: 1px dashed var(--color-accent); }
.cq-abstain { padding: .6rem .8rem; border-radius: 8px; background: #fef3c7; color: #78350f;
  border: 1px solid #f59e0b; }
.cq-subhead { font-weight: 600; font-size: .9rem; margin: .2rem 0; }
.cq-mode { font-size: .8rem; color: var(--body-text-color-subdued); font-style: italic; }
.cq-empty { color: var(--body-text-color-subdued); font-size: .9rem; padding: .6rem 0; }
.cq-files { list-style: none; padding: 0; margin: 0; }
.cq-file { padding: .35rem 0; border-bottom: 1px solid var(--border-color-primary); }
.cq-icon { display: inline-block; width: 1.4rem; font-weight: 700; }
.cq-ok .cq-icon { color: #15803d; } .cq-err .cq-icon { color: #b91c1c; }
.cq-err .cq-fmsg { color: #b91c1c; }
.cq-fname { font-weight: 600; }
.cq-table { width: 100%; border-collapse: collapse; font-size: .88rem; border: 0 !important; }
.cq-table th, .cq-table td { text-align: left; padding: .3rem .5rem; vertical-align: top;
  border: 0 !important; border-bottom: 1px solid var(--border-color-primary) !important; }
.cq-table tr { border: 0 !important; }
.cq-table code { font-size: .78rem; color: var(--body-text-color-subdued); }
.cq-table th { font-weight: 600; background: var(--background-fill-secondary); }
.cq-num { text-align: right !important; }
.cq-outline { max-height: 420px; overflow-y: auto; }
.cq-outline-title { font-weight: 600; margin: .3rem 0; }
"""

COPY_JS = """
async (text) => {
  if (!text) { return text; }
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  return text;
}
"""

CONFIRM_DELETE_JS = """
(documentId, confirmed, selected) => [
  documentId,
  documentId ? window.confirm("Retirer ce contrat de l'index ? Il ne sera plus interrogeable.")
             : false,
  selected,
]
"""


def ui_theme() -> gr.themes.Base:
    """A sober theme with system fonts (no font is fetched from outside: contracts are private)."""
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def _mode_badge(service: ContractQA) -> str:
    settings = getattr(service, "settings", None)
    provider = getattr(settings, "llm_provider", "none")
    if provider and provider != "none":
        model = getattr(settings, "llm_model", None) or provider
        text = f"Mode génératif : {model}"
    else:
        text = "Mode extractif : citations sans texte généré"
    return f'<span class="cq-badge">{html.escape(text)}</span>'


def build_ui(service: ContractQA) -> gr.Blocks:
    """The chat, the sources panel and the contracts tab, wired to the facade."""
    h = UIHandlers(service)
    with gr.Blocks(title="ContractQA — questions sur vos contrats", analytics_enabled=False) as ui:
        gr.HTML(
            '<div class="cq-header"><h1>ContractQA</h1>'
            "<p>Posez vos questions sur les contrats : chaque réponse cite les articles "
            "qui la fondent.</p>" + _mode_badge(service) + "</div>"
        )
        exchanges = gr.State([])
        with gr.Tabs():
            with gr.Tab("Questions", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=6):
                    selector = gr.Dropdown(
                        choices=[],
                        value=[],
                        multiselect=True,
                        label="Contrats interrogés",
                        info="Laissez vide pour interroger tous les contrats.",
                        elem_id="cq-selector",
                    )
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        show_label=False,
                        height=580,
                        buttons=[],
                        latex_delimiters=[],
                        feedback_options=None,
                        placeholder=(
                            "**Posez une question sur vos contrats.**\n\n"
                            "Par exemple : « Quel est le plafond de responsabilité ? », "
                            "« Quel est le préavis de résiliation ? »"
                        ),
                        elem_id="cq-chat",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Votre question (Entrée pour envoyer)…",
                            lines=1,
                            max_lines=4,
                            scale=8,
                            elem_id="cq-question",
                            autofocus=True,
                        )
                        send = gr.Button("Envoyer", variant="primary", scale=1,
                                         elem_id="cq-send")
                    with gr.Row():
                        copy_btn = gr.Button("Copier réponse et sources", size="sm",
                                             elem_id="cq-copy")
                        export_btn = gr.DownloadButton(
                            "Exporter en Markdown", size="sm",
                            interactive=False, elem_id="cq-export",
                        )
                        clear_btn = gr.Button("Nouvelle conversation", size="sm",
                                              elem_id="cq-clear")
                    copy_text = gr.Textbox(visible="hidden", elem_id="cq-copy-text")
                with gr.Column(scale=5, elem_classes="cq-sources-box"):
                    gr.HTML('<div class="cq-panel-title">Sources</div>')
                    sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="cq-sources",
                                      js_on_load=None)
            with gr.Tab("Contrats", id="contracts"), gr.Row(equal_height=False):
                with gr.Column(scale=4):
                    gr.HTML('<div class="cq-panel-title">Ajouter des contrats</div>')
                    files = gr.File(
                        label="Fichiers PDF, DOCX ou texte",
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        elem_id="cq-upload",
                    )
                    ingest_btn = gr.Button("Indexer les fichiers", variant="primary",
                                           elem_id="cq-ingest")
                    ingest_report = gr.HTML("", elem_id="cq-ingest-report", js_on_load=None)
                    gr.HTML('<div class="cq-panel-title">Contrats indexés</div>')
                    doc_table = gr.HTML("", elem_id="cq-documents", js_on_load=None)
                with gr.Column(scale=6):
                    gr.HTML('<div class="cq-panel-title">Plan d\'un contrat</div>')
                    with gr.Row():
                        doc_picker = gr.Dropdown(
                            choices=[], value=None, label="Contrat", scale=4,
                            elem_id="cq-doc-picker",
                        )
                        delete_btn = gr.Button("Retirer de l'index", variant="stop", size="sm",
                                               scale=0, min_width=150, elem_id="cq-delete")
                    outline = gr.HTML("", elem_id="cq-outline", js_on_load=None)
                    article_picker = gr.Dropdown(
                        choices=[], value=None, label="Afficher un article",
                        info="Tapez un numéro ou un mot de l'intitulé pour filtrer.",
                        elem_id="cq-article-picker",
                    )
                    article_view = gr.HTML("", elem_id="cq-article", js_on_load=None)
        confirmed = gr.Checkbox(value=False, visible="hidden")

        # Events --------------------------------------------------------------------------
        chat_outputs = [chatbot, exchanges, question, sources, copy_text]
        # Questions run side by side (the facade is thread-safe, as for the API's workers);
        # uploads and removals of contracts run one at a time.
        workers = max(1, int(getattr(getattr(service, "settings", None), "api_workers", 4)))
        for trigger in (question.submit, send.click):
            trigger(
                h.respond, [question, selector, exchanges], chat_outputs,
                show_progress="minimal", api_visibility="private",
                concurrency_limit=workers, concurrency_id="ask",
            ).then(h.after_answer, [exchanges], [export_btn], api_visibility="private")
        chatbot.clear(h.clear, None, [chatbot, exchanges, sources, copy_text, export_btn],
                      api_visibility="private")
        chatbot.select(h.select_message, [exchanges], [sources, copy_text],
                       api_visibility="private")
        copy_btn.click(h.copied, [copy_text], None, js=COPY_JS, api_visibility="private")
        clear_btn.click(h.clear, None, [chatbot, exchanges, sources, copy_text, export_btn],
                        api_visibility="private")
        ingest_btn.click(
            h.upload, [files], [ingest_report, selector, doc_table, doc_picker, files],
            show_progress_on=[ingest_report], api_visibility="private",
            concurrency_limit=1, concurrency_id="contracts",
        )
        doc_picker.change(h.show_outline, [doc_picker], [outline, article_picker, article_view],
                          api_visibility="private")
        article_picker.change(h.show_article, [doc_picker, article_picker], [article_view],
                              api_visibility="private")
        delete_btn.click(
            h.delete, [doc_picker, confirmed, selector],
            [selector, doc_table, doc_picker, outline, article_picker, article_view],
            js=CONFIRM_DELETE_JS, api_visibility="private",
            concurrency_limit=1, concurrency_id="contracts",
        )
        ui.load(h.refresh, [selector], [selector, doc_table, doc_picker], api_visibility="private")
    return ui


# ---------------------------------------------------------------------------------------------
# App and server
# ---------------------------------------------------------------------------------------------


def _minimal_api(service: ContractQA) -> FastAPI:
    """Stand-in for contractqa.api while it does not exist: only GET /health."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    api = FastAPI(title="ContractQA")

    @api.get("/health")
    def health() -> JSONResponse:
        if service.ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    return api


def create_app(settings: Settings, service: ContractQA | None = None) -> FastAPI:
    """The REST API (contractqa.api) with the Gradio chat mounted at "/"."""
    if service is None:
        from contractqa.service import ContractQA

        service = ContractQA(settings)
    try:
        from contractqa.api import create_api
    except ModuleNotFoundError as exc:
        if exc.name != "contractqa.api":
            raise
        api = _minimal_api(service)
    else:
        api = create_api(service, settings)
    return gr.mount_gradio_app(
        api,
        build_ui(service),
        path="/",
        theme=ui_theme(),
        css=UI_CSS,
        footer_links=[],
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024),
    )


def _progress_printer(stream: Any = None) -> Callable[[str, float], None]:
    """A progress callback printing '[ 40%] message' lines (each message once)."""
    out = stream or sys.stdout
    last: list[str] = []

    def show(message: str, fraction: float) -> None:
        if last and last[-1] == message:
            return
        last.append(message)
        pct = round(100 * max(0.0, min(1.0, fraction)))
        print(f"[{pct:3d}%] {message}", file=out, flush=True)

    return show


def serve(settings: Settings, ingest_paths: list[Path] | None = None) -> None:
    """Run the web app; on first start, ingest `ingest_paths` (printing progress) if given."""
    import uvicorn

    from contractqa.service import ContractQA

    service = ContractQA(settings)
    if ingest_paths and not service.documents():
        print("Premier démarrage : indexation des contrats…", flush=True)
        report = service.ingest(list(ingest_paths), progress=_progress_printer())
        for r in report.results:
            name = Path(r.path).name
            if r.status == "error":
                line = f"  ✗ {name} : {_clean_message(r.message, Path(r.path))}"
            elif r.status == "unchanged":
                line = f"  = {name} : déjà indexé"
            else:
                line = f"  ✓ {name} : {r.articles} articles, {r.chunks} passages"
            print(line, flush=True)
    app = create_app(settings, service)
    print(f"ContractQA : http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
