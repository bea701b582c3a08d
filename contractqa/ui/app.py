"""The lawyers' web app: a French Gradio chat over the contracts, mounted on the REST API.

The UI stays thin: every handler (`contractqa/ui/handlers.py`) calls the `ContractQA` facade;
rendering is in `contractqa/ui/render.py` and `contractqa/ui/contracts.py`; this module holds
the layout and the server (the top-level `app.py` is the entry point: `python app.py`).

Entry points: `build_ui(service)`, `create_app(settings, service)` and `serve(settings)`.
"""

from __future__ import annotations

import html
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from contractqa.security.audit import AuditLog
from contractqa.security.identity import ChatGate, Identity, exposure_error, login_router
from contractqa.security.tokens import TokenStore
from contractqa.settings import Settings
from contractqa.ui.contracts import clean_message
from contractqa.ui.handlers import UPLOAD_TYPES, UIHandlers
from contractqa.ui.render import SOURCES_PLACEHOLDER
from contractqa.ui.review import (
    CELL_FILTERS,
    CELL_PLACEHOLDER,
    REVIEW_PLACEHOLDER,
    SHOW_ALL,
    ReviewHandlers,
)
from ingest.progress import IngestProgress, ProgressCallback, milestones

if TYPE_CHECKING:
    from fastapi import FastAPI

    from contractqa.service import ContractQA

log = logging.getLogger("contractqa.app")

# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------

UI_CSS = """
.gradio-container { max-width: 1400px !important; margin: 0 auto; }
.cq-header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap;
  padding: .25rem 0 .5rem; border-bottom: 1px solid var(--border-color-primary); }
.cq-header h1 { margin: 0; font-size: 1.55rem; font-weight: 700; letter-spacing: -.01em; }
.cq-header p { margin: 0; color: var(--body-text-color-subdued); }
.cq-user { font-size: .85rem; color: var(--body-text-color-subdued); }
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
.cq-review-status { font-size: .9rem; padding: .4rem 0; }
.cq-review-summary { font-weight: 600; margin: .3rem 0; }
#cq-review-grid [role=gridcell], #cq-review-grid th { font-size: .8rem; }
#cq-review-grid span { font-family: var(--font); }
#cq-review-grid [data-col="0"], #cq-review-grid [data-testid="header-0"] { position: sticky;
  left: 0; z-index: 3; background: var(--background-fill-secondary); font-weight: 600; }
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
    provider = service.settings.llm_provider
    if provider != "none":
        model = service.settings.llm_model or provider
        text = f"Mode génératif : {model}"
    else:
        text = "Mode extractif : citations sans texte généré"
    return f'<span class="cq-badge">{html.escape(text)}</span>'


def build_ui(service: ContractQA, identity: Identity | None = None,
             audit: AuditLog | None = None) -> gr.Blocks:
    """The chat, the sources panel, the contracts tab and the review tab, wired to the facade.

    Every handler works for the session's user (`identity`; none: the local user only), within
    their matters, and checks their role whatever the browser sends; the page shows the
    controls of that role only (upload: editor, removal and matters: admin)."""
    h = UIHandlers(service, identity, audit)
    with gr.Blocks(title="ContractQA — questions sur vos contrats", analytics_enabled=False) as ui:
        gr.HTML(
            '<div class="cq-header"><h1>ContractQA</h1>'
            "<p>Posez vos questions sur les contrats : chaque réponse cite les articles "
            "qui la fondent.</p>" + _mode_badge(service) + "</div>"
        )
        user = gr.HTML("", elem_id="cq-user-box", js_on_load=None,
                       visible=not h.identity.local)  # who is connected; no one to name locally
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
                    with gr.Column(visible=False, elem_id="cq-upload-box") as upload_box:
                        gr.HTML('<div class="cq-panel-title">Ajouter des contrats</div>')
                        files = gr.File(
                            label="Fichiers PDF, DOCX ou texte",
                            file_count="multiple",
                            file_types=UPLOAD_TYPES,
                            elem_id="cq-upload",
                        )
                        matter = gr.Dropdown(choices=[], value=None, label="Dossier",
                                             info="Le dossier dont les contrats feront partie.",
                                             elem_id="cq-matter")
                        ingest_btn = gr.Button("Indexer les fichiers", variant="primary",
                                               elem_id="cq-ingest")
                        ingest_report = gr.HTML("", elem_id="cq-ingest-report", js_on_load=None)
                    gr.HTML('<div class="cq-panel-title">Contrats indexés</div>')
                    doc_search = gr.Textbox(
                        label="Rechercher un contrat", elem_id="cq-doc-search",
                        placeholder="Mots du titre, de l'identifiant, du fichier ou d'une partie")
                    doc_table = gr.HTML("", elem_id="cq-documents", js_on_load=None)
                with gr.Column(scale=6):
                    gr.HTML('<div class="cq-panel-title">Plan d\'un contrat</div>')
                    with gr.Row():
                        doc_picker = gr.Dropdown(
                            choices=[], value=None, label="Contrat", scale=4,
                            elem_id="cq-doc-picker",
                        )
                        delete_btn = gr.Button("Retirer de l'index", variant="stop", size="sm",
                                               scale=0, min_width=150, elem_id="cq-delete",
                                               visible=False)
                    with gr.Row(visible=False, elem_id="cq-matters-box") as matters_box:
                        doc_matters = gr.Dropdown(
                            choices=[], value=[], multiselect=True, allow_custom_value=True,
                            label="Dossiers du contrat", scale=4, elem_id="cq-doc-matters")
                        matters_btn = gr.Button("Classer", size="sm", scale=0, min_width=150,
                                                elem_id="cq-set-matters")
                    outline = gr.HTML("", elem_id="cq-outline", js_on_load=None)
                    article_picker = gr.Dropdown(
                        choices=[], value=None, label="Afficher un article",
                        info="Tapez un numéro ou un mot de l'intitulé pour filtrer.",
                        elem_id="cq-article-picker",
                    )
                    article_view = gr.HTML("", elem_id="cq-article", js_on_load=None)
            review_tab, review = _review_tab()
        confirmed = gr.Checkbox(value=False, visible="hidden")

        # Events --------------------------------------------------------------------------
        chat_outputs = [chatbot, exchanges, question, sources, copy_text]
        # Questions run side by side (the facade is thread-safe, as for the API's workers);
        # uploads and removals of contracts run one at a time.
        workers = service.settings.api_workers
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
            h.upload, [files, matter], [ingest_report, selector, doc_table, doc_picker, files],
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
        ui.load(h.session, None, [user, upload_box, delete_btn, matter, matters_box],
                api_visibility="private")
        doc_picker.change(h.contract_matters, [doc_picker], [doc_matters],
                          api_visibility="private")
        matters_btn.click(h.set_matters, [doc_picker, doc_matters], [doc_matters],
                          api_visibility="private", concurrency_limit=1,
                          concurrency_id="contracts")
        ui.load(h.refresh, [selector], [selector, doc_table, doc_picker], api_visibility="private")
        doc_search.change(h.search_documents, [doc_search], [doc_table], api_visibility="private",
                          show_progress="hidden")
        _review_events(ReviewHandlers(service, h), ui, review_tab, review)
    return ui


def _review_tab() -> tuple[gr.Tab, dict[str, Any]]:
    """The « Revue » tab: contracts × a list of questions, one cited cell each."""
    c: dict[str, Any] = {}
    with gr.Tab("Revue", id="review") as tab:
        with gr.Row(equal_height=False):
            c["documents"] = gr.Dropdown(
                choices=[], value=[], multiselect=True, label="Contrats passés en revue",
                info="Laissez vide pour tous les contrats.", scale=4,
                elem_id="cq-review-docs")
            c["checklist"] = gr.Dropdown(choices=[], value=None, label="Liste de questions",
                                         scale=3, elem_id="cq-review-checklist")
            c["extra"] = gr.Textbox(label="Questions ajoutées (une par ligne)", lines=2,
                                    max_lines=8, scale=4, elem_id="cq-review-questions")
            c["run"] = gr.Button("Lancer la revue", variant="primary", scale=1,
                                 min_width=140, elem_id="cq-review-run")
        with gr.Accordion("Enregistrer ces questions comme liste réutilisable", open=False):
            with gr.Row():
                c["name"] = gr.Textbox(label="Nom de la liste", scale=4,
                                       elem_id="cq-review-list-name")
                c["save"] = gr.Button("Enregistrer la liste", size="sm", scale=1,
                                      elem_id="cq-review-save")
        c["status"] = gr.HTML(REVIEW_PLACEHOLDER, elem_id="cq-review-status", js_on_load=None)
        with gr.Row():
            c["question_filter"] = gr.Dropdown(
                choices=[], value=[], multiselect=True, label="Questions affichées",
                info="Laissez vide pour toutes.", scale=4, elem_id="cq-review-filter-q")
            c["cell_filter"] = gr.Radio(CELL_FILTERS, value=SHOW_ALL, label="Cellules", scale=3,
                                        elem_id="cq-review-filter-cells")
            c["text_filter"] = gr.Textbox(label="Rechercher un mot", scale=3,
                                          elem_id="cq-review-filter-text")
        c["grid"] = gr.Dataframe(headers=["Contrat"], value=[], interactive=False, wrap=True,
                                 max_height=620, label="Tableau de revue",
                                 elem_id="cq-review-grid")
        with gr.Row():
            c["xlsx"] = gr.DownloadButton("Télécharger le tableau (XLSX)", interactive=False,
                                          size="sm", elem_id="cq-review-xlsx")
            c["csv"] = gr.DownloadButton("CSV", interactive=False, size="sm",
                                         elem_id="cq-review-csv")
            c["md"] = gr.DownloadButton("Markdown", interactive=False, size="sm",
                                        elem_id="cq-review-md")
        c["cell"] = gr.HTML(CELL_PLACEHOLDER, elem_id="cq-review-cell", js_on_load=None)
        c["review"] = gr.State(None)
        c["layout"] = gr.State(None)
    return tab, c


def _review_events(h: ReviewHandlers, ui: gr.Blocks, tab: gr.Tab, c: dict[str, Any]) -> None:
    """Wire the « Revue » tab to its handlers."""
    loaded = [c["documents"], c["checklist"]]
    ui.load(h.load, loaded, loaded, api_visibility="private")
    tab.select(h.load, loaded, loaded, api_visibility="private")
    c["run"].click(
        h.run, [c["documents"], c["checklist"], c["extra"]],
        [c["review"], c["layout"], c["status"], c["grid"], c["question_filter"], c["cell"],
         c["xlsx"], c["csv"], c["md"]],
        show_progress="full", show_progress_on=[c["grid"]], api_visibility="private",
        concurrency_limit=2, concurrency_id="review")
    filters = [c["review"], c["question_filter"], c["cell_filter"], c["text_filter"]]
    for trigger in (c["question_filter"].change, c["cell_filter"].change,
                    c["text_filter"].submit):
        trigger(h.filter, filters, [c["layout"], c["grid"]], api_visibility="private")
    c["grid"].select(h.select, [c["review"], c["layout"]], [c["cell"]],
                     api_visibility="private")
    c["save"].click(h.save_checklist, [c["name"], c["checklist"], c["extra"]],
                    [c["checklist"]], api_visibility="private")


# ---------------------------------------------------------------------------------------------
# App and server
# ---------------------------------------------------------------------------------------------


def create_app(settings: Settings, service: ContractQA | None = None) -> FastAPI:
    """The REST API (contractqa.api) with the Gradio chat mounted at "/"."""
    if service is None:
        from contractqa.service import ContractQA

        service = ContractQA(settings)
    from contractqa.api import create_api

    api = create_api(service, settings)
    identity = Identity(settings, api.state.tokens)
    api.include_router(login_router(identity, api.state.audit))  # before Gradio's "/"
    # Inside the security headers and the API's gate: the chat's own gate.
    api.user_middleware.append(Middleware(ChatGate, identity=identity))
    return gr.mount_gradio_app(
        api,
        build_ui(service, identity, api.state.audit),
        path="/",
        auth_dependency=identity.username,
        theme=ui_theme(),
        css=UI_CSS,
        footer_links=[],
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024),
    )


def _progress_printer(stream: Any = None) -> ProgressCallback:
    """A progress callback printing '[ 40%] file : stage' lines (each stage, every 10 %)."""
    out = stream or sys.stdout

    def show(event: IngestProgress) -> None:
        pct = round(100 * max(0.0, min(1.0, event.fraction)))
        print(f"[{pct:3d}%] {event.label}", file=out, flush=True)

    return milestones(show)


def serve(settings: Settings, ingest_paths: list[Path] | None = None) -> None:
    """Run the web app; on first start, ingest `ingest_paths` (printing progress) if given."""
    import uvicorn

    from contractqa.service import ContractQA

    refusal = exposure_error(settings, TokenStore.from_settings(settings))
    if refusal:  # before loading anything, before binding the address
        print(refusal, file=sys.stderr, flush=True)
        raise SystemExit(2)
    service = ContractQA(settings)
    if ingest_paths and not service.documents():
        print("Premier démarrage : indexation des contrats…", flush=True)
        report = service.ingest(list(ingest_paths), progress=_progress_printer())
        for r in report.results:
            name = Path(r.path).name
            if r.status == "error":
                line = f"  ✗ {name} : {clean_message(r.message, Path(r.path))}"
            elif r.status == "unchanged":
                line = f"  = {name} : déjà indexé"
            else:
                line = f"  ✓ {name} : {r.articles} articles, {r.chunks} passages"
            print(line, flush=True)
    app = create_app(settings, service)
    print(f"ContractQA : http://{settings.host}:{settings.port}/", flush=True)
    # The TCP peer stays the client: a trusted proxy's user header is honoured by its address,
    # which X-Forwarded-For must not replace.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                proxy_headers=False)
