"""The event handlers of the chat UI: each calls the `ContractQA` facade and returns what the
components show. Kept apart from the layout (app.py) so tests can call them in process."""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from contractqa.service import settle_uploads
from contractqa.ui.contracts import (
    article_html,
    document_choices,
    documents_html,
    ingest_report_html,
    outline_choices,
    outline_html,
)
from contractqa.ui.render import (
    SOURCES_PLACEHOLDER,
    Exchange,
    answer_plaintext,
    article_label,
    chat_messages,
    conversation_markdown,
    optional_text,
    sources_html,
)
from ingest.locking import IndexBusy
from ingest.progress import IngestProgress
from retrieval.models import Answer, Turn

if TYPE_CHECKING:
    from contractqa.service import ContractQA

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
                if event.kind == "status" and event.text:
                    current.status = event.text
                    yield chat_messages(exchanges, titles), exchanges, "", gr.skip(), ""
                elif event.kind == "delta" and event.text:
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

    def search_documents(self, query: str | None) -> str:
        """The contracts table, those whose title, id, file name or names hold the words."""
        return documents_html(self.service.documents(), query or "")

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

        def on_progress(event: IngestProgress) -> None:
            if progress is not None:  # stage, then passages embedded / total of each file
                progress(max(0.0, min(1.0, event.fraction)), desc=event.label)

        try:
            if progress is not None:
                progress(0.0, desc="Lecture des fichiers…")
            # Saved where the API saves uploads: a file of the same name replaces its own
            # earlier version, whichever of the two received it.
            saved = [self.service.save_upload(p) for p in paths]
            report = None
            try:
                report = self.service.ingest([u.path for u in saved], progress=on_progress)
            finally:
                settle_uploads(saved, report)
        except IndexBusy as exc:
            raise gr.Error(str(exc), title="Index occupé", print_exception=False) from None
        except Exception:
            log.exception("ingest of %s failed", [p.name for p in paths])
            raise gr.Error(MSG_INGEST_FAILED, title="Erreur", print_exception=False) from None
        indexed = [r for r in report.results if r.status in ("indexed", "replaced")]
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
            section = optional_text(item.get("section"))
            article = optional_text(item.get("article"))
            text = self.service.article_text(document_id, section, article)
        except (KeyError, IndexError, ValueError):
            gr.Warning("Cet article est introuvable dans l'index.", title="Article introuvable")
            return ""
        heading = optional_text(item.get("heading"))
        return article_html(article_label(section, article, heading), text)

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
        except IndexBusy as exc:
            raise gr.Error(str(exc), title="Index occupé", print_exception=False) from None
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

