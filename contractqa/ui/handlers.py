"""The event handlers of the chat UI: each calls the `ContractQA` facade and returns what the
components show. Kept apart from the layout (app.py) so tests can call them in process."""

from __future__ import annotations

import html
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from contractqa.security.audit import AuditLog, answer_fields
from contractqa.security.identity import Identity, role_label
from contractqa.security.tokens import Principal, TokenStore
from contractqa.service import settle_uploads
from contractqa.settings import MATTER_PATTERN
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
from ingest.progress import Eta, IngestProgress
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
MSG_LOGIN = "Votre session a expiré ou vous n'êtes pas connecté : rechargez la page (/login)."
# What each role may do, said to a user refused (the server checks every event, whatever the
# browser shows or sends).
ACTIONS = {"ask": "consulter les contrats", "edit": "ajouter ou remplacer des contrats",
           "admin": "retirer des contrats ou les classer dans des dossiers"}
_MATTER = re.compile(MATTER_PATTERN)


def client_of(request: gr.Request | None) -> str | None:
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


class UIHandlers:
    """The event handlers of the UI, kept apart from the layout so tests can call them."""

    def __init__(self, service: ContractQA, identity: Identity | None = None,
                 audit: AuditLog | None = None) -> None:
        self.service = service
        # Without an identity: no user declared, so only the local user (loopback host).
        self.identity = identity or Identity(service.settings, TokenStore([]))
        self.audit = audit or AuditLog(service.settings.data_dir / "audit.log")

    # Shared ------------------------------------------------------------------------------
    def who(self, request: gr.Request | None, scope: str = "ask") -> Principal:
        """The session's user if its role allows `scope`; else a French error (and, for a
        role refused, an audit line)."""
        principal = self.identity.of(request)
        if principal is None:
            raise gr.Error(MSG_LOGIN, title="Connexion requise", print_exception=False)
        if not principal.has(scope):
            self.audit.write("denied", principal, client=client_of(request), origin="chat",
                             scope=scope, status=403)
            raise gr.Error(f"Votre rôle ({role_label(principal)}) ne permet pas de "
                           f"{ACTIONS[scope]}.", title="Accès refusé", print_exception=False)
        return principal

    def titles(self, who: Principal | None = None) -> dict[str, str]:
        """The contracts this user sees (None: in-process, every contract), by id."""
        matters = who.matters if who else None
        return {d.document_id: d.title for d in self.service.documents(matters)}

    def _article_texts(self, answer: Answer, who: Principal | None) -> dict[int, str]:
        texts: dict[int, str] = {}
        for c in answer.citations:
            try:
                texts[c.n] = self.service.article_text(c.document_id, c.section, c.article,
                                                       who.matters if who else None)
            except Exception:  # a missing article only hides the fold-out block
                log.exception("article_text failed for %s %s", c.document_id, c.article)
        return texts

    def render_sources(self, answer: Answer | None, who: Principal | None = None) -> str:
        if answer is None:
            return SOURCES_PLACEHOLDER
        return sources_html(answer, self._article_texts(answer, who), self.titles(who))

    def session(self, request: gr.Request | None = None) -> tuple[Any, ...]:
        """At page load: who is connected, and the controls their role allows (upload for an
        editor, removal and matters for an admin); returns (badge, upload box, remove button,
        matter, matters box)."""
        who = self.who(request)
        badge = ""
        if not self.identity.local:
            scope = (", ".join(sorted(who.matters)) if who.matters is not None
                     else "tous les dossiers")
            badge = (f'<span class="cq-user" id="cq-user">{html.escape(who.name)} · '
                     f"{role_label(who)} · {html.escape(scope)} · "
                     '<a href="/logout">Se déconnecter</a></span>')
        matters = self.upload_matters(who)
        default = self.service.settings.default_matter
        value = default if default in matters else (matters[0] if matters else None)
        return (badge, gr.Column(visible=who.has("edit")), gr.Button(visible=who.has("admin")),
                gr.Dropdown(choices=matters, value=value,
                            allow_custom_value=who.matters is None),
                gr.Row(visible=who.has("admin")))

    def upload_matters(self, who: Principal) -> list[str]:
        """The matters a user may put contracts in: their own, or every known one."""
        if who.matters is not None:
            return sorted(who.matters)
        known = {m for d in self.service.documents() for m in self.service.matters_of(d)}
        return sorted(known | {self.service.settings.default_matter})

    # Chat --------------------------------------------------------------------------------
    def respond(
        self, question: str, selected: list[str] | None, exchanges: list[Exchange] | None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer within the user's matters (every question is audited). Yields
        (chat, exchanges, question box, sources, copy text)."""
        who = self.who(request)
        exchanges = list(exchanges or [])
        question = (question or "").strip()
        titles = self.titles(who)
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
        t0, status = time.perf_counter(), 500
        try:
            for event in self.service.stream(question, documents or None, history,
                                             matters=who.matters):
                if event.kind == "status" and event.text:
                    current.status = event.text
                    yield chat_messages(exchanges, titles), exchanges, "", gr.skip(), ""
                elif event.kind == "delta" and event.text:
                    current.status = ""  # the model writes: what it was reading is done
                    current.partial += event.text
                    yield chat_messages(exchanges, titles), exchanges, "", gr.skip(), ""
                elif event.answer is not None:
                    current.answer = event.answer
            if current.answer is None:
                raise RuntimeError("stream ended without a final answer")
            status = 200
            sources = self.render_sources(current.answer, who)
            copy = answer_plaintext(current.answer, titles)
        except Exception:
            log.exception("answering %r failed", question)
            current.error = MSG_ANSWER_FAILED
            current.answer = None
            gr.Warning(MSG_ANSWER_FAILED, title="Erreur")
            sources, copy = SOURCES_PLACEHOLDER, ""
        finally:
            self.audit.write(
                "ask_stream", who, client=client_of(request), origin="chat", question=question,
                documents=documents, history_turns=len(history), status=status,
                duration_ms=round((time.perf_counter() - t0) * 1000),
                **answer_fields(current.answer.to_json() if current.answer else None))
        yield chat_messages(exchanges, titles), exchanges, "", sources, copy

    def select_message(
        self, exchanges: list[Exchange] | None, evt: gr.SelectData,
        request: gr.Request | None = None,
    ) -> tuple[Any, Any]:
        """Clicking a message shows the sources of that exchange's answer."""
        who = self.who(request)
        exchanges = exchanges or []
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        try:
            exchange = exchanges[int(index) // 2]
        except (IndexError, TypeError, ValueError):
            return gr.skip(), gr.skip()
        if exchange.answer is None:
            return gr.skip(), gr.skip()
        answer = exchange.answer
        return self.render_sources(answer, who), answer_plaintext(answer, self.titles(who))

    def export(self, exchanges: list[Exchange] | None, who: Principal | None = None
               ) -> str | None:
        """Write the conversation to a Markdown file and return its path (None when empty)."""
        if not exchanges:
            return None
        folder = Path(tempfile.mkdtemp(prefix="contractqa-export-"))
        path = folder / f"conversation-{datetime.now().strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(conversation_markdown(exchanges, self.titles(who)), encoding="utf-8")
        return str(path)

    def after_answer(self, exchanges: list[Exchange] | None,
                     request: gr.Request | None = None) -> Any:
        """Refresh the export button once an answer is complete."""
        path = self.export(exchanges, self.who(request))
        return gr.DownloadButton(value=path, interactive=path is not None)

    def copied(self, text: str) -> None:
        if text:
            gr.Info("La réponse et ses sources ont été copiées.", title="Copié")
        else:
            gr.Warning(MSG_NOTHING_TO_COPY, title="Rien à copier")

    def clear(self) -> tuple[Any, ...]:
        return [], [], SOURCES_PLACEHOLDER, "", gr.DownloadButton(value=None, interactive=False)

    # Contracts ---------------------------------------------------------------------------
    def _contract_updates(self, who: Principal, keep: str | None = None
                          ) -> tuple[Any, Any, Any]:
        """Selector, table and outline-picker after the list of contracts changed."""
        docs = self.service.documents(who.matters)
        choices = document_choices(docs)
        ids = {d.document_id for d in docs}
        return (
            gr.Dropdown(choices=choices),
            documents_html(docs),
            gr.Dropdown(choices=choices, value=keep if keep in ids else None),
        )

    def search_documents(self, query: str | None, request: gr.Request | None = None) -> str:
        """The contracts table: those of the user's matters whose title, id, file name or names
        hold the words."""
        return documents_html(self.service.documents(self.who(request).matters), query or "")

    def refresh(self, selected: list[str] | None, request: gr.Request | None = None
                ) -> tuple[Any, Any, Any]:
        return self._refresh(selected, self.who(request))

    def _refresh(self, selected: list[str] | None, who: Principal) -> tuple[Any, Any, Any]:
        docs = self.service.documents(who.matters)
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
        matter: str | None = None,
        request: gr.Request | None = None,
        progress: gr.Progress | None = gr.Progress(),  # noqa: B008 (Gradio's progress marker)
    ) -> tuple[Any, ...]:
        """Ingest uploaded files into a matter of the user's (role editor); returns (report,
        selector, table, picker, file box)."""
        who = self.who(request, "edit")
        target = self._upload_matter(who, matter)
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", str(f))) for f in files or []]
        if not paths:
            gr.Warning(MSG_NO_FILES, title="Aucun fichier")
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())

        eta = Eta()

        def on_progress(event: IngestProgress) -> None:
            if progress is not None:  # stage, then passages embedded / total of each file
                left = eta.label(event.fraction)  # and the time left, once it can be told
                progress(max(0.0, min(1.0, event.fraction)),
                         desc=f"{event.label} ; {left}" if left else event.label)

        try:
            if progress is not None:
                progress(0.0, desc="Lecture des fichiers…")
            # Saved where the API saves uploads: a file of the same name replaces its own
            # earlier version, whichever of the two received it.
            saved = [self.service.save_upload(p) for p in paths]
            report = None
            try:
                report = self.service.ingest([u.path for u in saved], progress=on_progress,
                                             matters=[target])
            finally:
                settle_uploads(saved, report)
                done = ([[Path(r.path).name, r.status] for r in report.results] if report
                        else [[p.name, "error"] for p in paths])
                self.audit.write("upload", who, client=client_of(request), origin="chat",
                                 matter=target, files=done)
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
        selector, table, picker = self._contract_updates(who, keep)
        return ingest_report_html(report), selector, table, picker, None

    def _upload_matter(self, who: Principal, matter: str | None) -> str:
        """The matter chosen, if the user's; else their only one, else the default one."""
        matter = (matter or "").strip()
        if not matter and who.matters is not None and len(who.matters) == 1:
            matter = next(iter(who.matters))
        matter = matter or self.service.settings.default_matter
        if not _MATTER.match(matter) or not who.sees([matter]):
            raise gr.Error(f"Vous n'avez pas accès au dossier « {matter} » : choisissez l'un "
                           "des vôtres.", title="Dossier refusé", print_exception=False)
        return matter

    def show_outline(self, document_id: str | None, request: gr.Request | None = None
                     ) -> tuple[str, Any, str]:
        """The outline of one contract and the article picker filled from it."""
        who = self.who(request)
        empty_article = ""
        if not document_id:
            return "", gr.Dropdown(choices=[], value=None), empty_article
        titles = self.titles(who)
        try:
            outline = self.service.outline(document_id, who.matters)
        except KeyError:
            gr.Warning("Ce contrat n'est plus dans l'index.", title="Contrat introuvable")
            return "", gr.Dropdown(choices=[], value=None), empty_article
        return (
            outline_html(titles.get(document_id, document_id), outline),
            gr.Dropdown(choices=outline_choices(outline), value=None),
            empty_article,
        )

    def contract_matters(self, document_id: str | None, request: gr.Request | None = None
                         ) -> Any:
        """The matters of the contract picked (an admin may change them)."""
        who = self.who(request)
        record = next((d for d in self.service.documents(who.matters)
                       if d.document_id == document_id), None)
        current = self.service.matters_of(record) if record else []
        return gr.Dropdown(choices=sorted(set(self.upload_matters(who)) | set(current)),
                           value=current)

    def set_matters(self, document_id: str | None, matters: list[str] | None,
                    request: gr.Request | None = None) -> Any:
        """Put a contract of the admin's matters in these matters (their own only)."""
        who = self.who(request, "admin")
        chosen = sorted({m.strip() for m in matters or [] if m.strip()})
        if not document_id or document_id not in self.titles(who):
            gr.Warning(MSG_NO_CONTRACT_SELECTED, title="Aucun contrat")
            return gr.skip()
        if not chosen:
            gr.Warning("Choisissez au moins un dossier.", title="Aucun dossier")
            return gr.skip()
        bad = [m for m in chosen if not _MATTER.match(m) or not who.sees([m])]
        if bad:
            raise gr.Error(f"Dossiers refusés : {', '.join(bad)} (lettres, chiffres, « . », "
                           "« - », « _ » ; les vôtres seulement).", title="Dossier refusé",
                           print_exception=False)
        try:
            record = self.service.set_matters(document_id, chosen)
        except IndexBusy as exc:
            raise gr.Error(str(exc), title="Index occupé", print_exception=False) from None
        self.audit.write("matters", who, client=client_of(request), origin="chat",
                         document_id=document_id, to=record.matters)
        gr.Info(f"Contrat classé dans : {', '.join(record.matters)}.", title="Dossiers")
        return gr.Dropdown(value=record.matters)

    def show_article(self, document_id: str | None, choice: str | None,
                     request: gr.Request | None = None) -> str:
        """The whole text of the article picked in the outline."""
        who = self.who(request)
        if not document_id or choice in (None, ""):
            return ""
        try:
            item = self.service.outline(document_id, who.matters)[int(str(choice))]
            section = optional_text(item.get("section"))
            article = optional_text(item.get("article"))
            text = self.service.article_text(document_id, section, article, who.matters)
        except (KeyError, IndexError, ValueError):
            gr.Warning("Cet article est introuvable dans l'index.", title="Article introuvable")
            return ""
        heading = optional_text(item.get("heading"))
        return article_html(article_label(section, article, heading), text)

    def delete(self, document_id: str | None, confirmed: bool, selected: list[str] | None,
               request: gr.Request | None = None) -> tuple[Any, ...]:
        """Remove a contract of the user's matters from the index (role admin, after the
        browser's confirmation); one outside them is not indexed as far as they can tell."""
        who = self.who(request, "admin")
        if not document_id:
            gr.Warning(MSG_NO_CONTRACT_SELECTED, title="Aucun contrat")
            return (gr.skip(),) * 6
        if not confirmed:
            return (gr.skip(),) * 6
        titles = self.titles(who)
        title = titles.get(document_id, document_id)
        try:
            deleted = document_id in titles and self.service.delete(document_id)
        except IndexBusy as exc:
            raise gr.Error(str(exc), title="Index occupé", print_exception=False) from None
        except Exception:
            log.exception("delete of %s failed", document_id)
            raise gr.Error("La suppression a échoué à la suite d'une erreur interne.",
                           title="Erreur", print_exception=False) from None
        self.audit.write("delete", who, client=client_of(request), origin="chat",
                         document_id=document_id, status=200 if deleted else 404)
        if deleted:
            gr.Info(f"« {html.escape(title)} » a été retiré de l'index.", title="Contrat retiré")
        else:
            gr.Warning("Ce contrat n'était plus dans l'index.", title="Contrat introuvable")
        selector, table, picker = self._refresh(
            [d for d in (selected or []) if d != document_id], who)
        return selector, table, picker, "", gr.Dropdown(choices=[], value=None), ""

