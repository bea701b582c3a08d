"""The « Revue » tab: contracts × questions in a grid, each cell quoting its contract.

Handlers call the `ContractQA` facade (`review`, `checklists`, `article_text`); rendering of
the grid and of a clicked cell is here too (no Gradio in the render functions). Contract text
is escaped before it reaches HTML.
"""

from __future__ import annotations

import html
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from contractqa.review import Cell, Review, ReviewQuestion, ReviewTooLarge
from contractqa.review_export import export_name, mode_label, write_export
from contractqa.review_storage import ChecklistError
from contractqa.ui.contracts import document_choices
from contractqa.ui.handlers import UIHandlers, client_of
from contractqa.ui.render import article_label, format_pages, highlight_html
from ingest.locking import IndexBusy

if TYPE_CHECKING:
    from contractqa.service import ContractQA


log = logging.getLogger("contractqa.app")

NO_CHECKLIST = ""
DEFAULT_CHECKLIST = "due-diligence"
SHOW_ALL, SHOW_FOUND, SHOW_ABSENT = "Toutes", "Clauses trouvées", "Non prévu"
CELL_FILTERS = [SHOW_ALL, SHOW_FOUND, SHOW_ABSENT]
CELL_PLACEHOLDER = (
    '<div class="cq-empty">Cliquez sur une cellule du tableau : l\'article cité s\'affiche ici, '
    "la phrase qui répond surlignée.</div>"
)
REVIEW_PLACEHOLDER = (
    '<div class="cq-empty">Choisissez les contrats et une liste de questions, puis lancez la '
    "revue : chaque cellule cite la phrase du contrat qui répond, ou indique « Non prévu par "
    "le contrat ».</div>"
)
MSG_REVIEW_FAILED = (
    "La revue n'a pas pu être menée à la suite d'une erreur interne. Réessayez ; si le "
    "problème persiste, consultez les journaux du serveur."
)
QUOTE_CHARS = 160


@dataclass
class GridLayout:
    """Which contract and question each row and column of the shown grid is."""

    documents: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)  # column 0 is the contract's title


# Rendering -------------------------------------------------------------------------------------


def short_cell(cell: Cell | None) -> str:
    """A grid cell: the quote cut short and where it is; or "Non prévu par le contrat"."""
    if cell is None:
        return ""
    if cell.status != "found":
        return cell.text
    quote = " ".join(cell.quote.split())
    if len(quote) > QUOTE_CHARS:
        cut = quote.rfind(" ", 0, QUOTE_CHARS)
        quote = quote[: cut if cut > 0 else QUOTE_CHARS] + " …"
    source = cell.source
    where = ""
    if source is not None:
        where = " · ".join(p for p in (
            source.section, f"art. {source.article}" if source.article else source.heading,
            format_pages(source.pages)) if p)
    lead = f"{cell.summary}\n" if cell.summary else ""
    return f"{lead}« {quote} »\n— {where}" if where else f"{lead}« {quote} »"


def _shown(cell: Cell | None, cells: str, text: str) -> bool:
    if cell is None:
        return False
    if cells == SHOW_FOUND and cell.status != "found":
        return False
    if cells == SHOW_ABSENT and cell.status == "found":
        return False
    return not text or text in f"{cell.quote} {cell.summary or ''}".casefold()


def grid_rows(review: Review, question_ids: list[str] | None = None, cells: str = SHOW_ALL,
              text: str = "") -> tuple[list[str], list[list[str]], GridLayout]:
    """Headers, rows and layout of the grid, filtered by question, kind of cell and text.

    A contract is shown when one of its shown cells passes the filters (or its title holds
    the text); the cells that do not pass are left blank.
    """
    wanted = set(question_ids or [])
    questions = [q for q in review.questions if not wanted or q.id in wanted]
    needle = text.strip().casefold()
    headers = ["Contrat", *[q.label for q in questions]]
    rows: list[list[str]] = []
    layout = GridLayout(questions=[q.id for q in questions])
    for d in review.documents:
        title_hit = bool(needle) and needle in d.title.casefold()
        row = [d.title]
        kept = False
        for q in questions:
            cell = review.cell(d.document_id, q.id)
            visible = _shown(cell, cells, "" if title_hit else needle)
            kept = kept or visible
            row.append(short_cell(cell) if visible else "")
        if kept:
            rows.append(row)
            layout.documents.append(d.document_id)
    return headers, rows, layout


def status_html(review: Review) -> str:
    counts = review.counts()
    parts = [f"<strong>{html.escape(review.title)}</strong> — {len(review.documents)} contrat(s) "
             f"× {len(review.questions)} question(s) : {counts['found']} clause(s) citée(s), "
             f"{counts['absent']} « Non prévu »"]
    if counts["error"]:
        parts.append(f", {counts['error']} erreur(s)")
    parts.append(f". {review.cached_cells} cellule(s) reprise(s) du cache ; "
                 f"{review.seconds:g} s. Mode {html.escape(mode_label(review))}.")
    return f'<div class="cq-review-status">{"".join(parts)}</div>'


def cell_html(review: Review, cell: Cell, article: str = "") -> str:
    """A clicked cell: contract, question, citation and the whole article, quote marked."""
    document = review.document(cell.document_id)
    question = review.question(cell.question_id)
    title = document.title if document else cell.document_id
    out = ['<div class="cq-review-cell">',
           f'<div class="cq-subhead">{html.escape(title)}</div>',
           f'<div class="cq-ref">{html.escape(question.question if question else "")}</div>']
    if cell.status != "found" or cell.source is None:
        out.append(f'<div class="cq-abstain"><strong>{html.escape(cell.text)}.</strong> '
                   f"{html.escape(cell.note)}</div></div>")
        return "".join(out)
    source = cell.source
    pages = format_pages(source.pages)
    label = article_label(source.section, source.article, source.heading)
    out.append(f'<div class="cq-source-head"><span class="cq-title">{html.escape(label)}</span>'
               + (f'<span class="cq-pages">{html.escape(pages)}</span>' if pages else "")
               + "</div>")
    if cell.summary:
        out.append(f'<div class="cq-review-summary">{html.escape(cell.summary)}</div>')
    if cell.summary_note:
        out.append(f'<div class="cq-mode">{html.escape(cell.summary_note)}</div>')
    if cell.confidence is not None:
        out.append(f'<div class="cq-mode">Confiance : {cell.confidence:.2f}</div>')
    text = article if article.strip() else source.excerpt
    out.append(f'<div class="cq-article-text" id="cq-review-article">'
               f"{highlight_html(text, cell.quote)}</div></div>")
    return "".join(out)


def parse_questions(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# Handlers --------------------------------------------------------------------------------------


class ReviewHandlers:
    """Events of the « Revue » tab."""

    def __init__(self, service: ContractQA, ui: UIHandlers | None = None) -> None:
        """`ui`: the chat's handlers, whose session user and audit log the tab shares."""
        self.service = service
        ui = ui or UIHandlers(service)
        self.who, self.audit = ui.who, ui.audit

    def checklist_choices(self) -> list[tuple[str, str]]:
        choices = [(c.title if c.builtin else f"{c.title} (enregistrée)", c.id)
                   for c in self.service.checklists.all()]
        return [*choices, ("Aucune : mes questions seulement", NO_CHECKLIST)]

    def load(self, selected: list[str] | None, checklist: str | None,
             request: gr.Request | None = None) -> tuple[Any, Any]:
        """Contracts (of the user's matters) and checklists when the page loads or the tab
        opens."""
        docs = self.service.documents(self.who(request, "ask").matters)
        ids = {d.document_id for d in docs}
        choices = self.checklist_choices()
        known = {value for _label, value in choices}
        current = checklist if checklist in known else DEFAULT_CHECKLIST
        return (gr.Dropdown(choices=document_choices(docs), multiselect=True,
                            value=[d for d in (selected or []) if d in ids]),
                gr.Dropdown(choices=choices, value=current))

    def _questions(self, checklist: str | None, extra: str | None
                   ) -> tuple[list[ReviewQuestion], str, str | None]:
        from contractqa.review import custom_questions

        base: list[ReviewQuestion] = []
        title = "Questions personnalisées"
        if checklist:
            found = self.service.checklists.get(checklist)
            base, title = list(found.questions), found.title
        questions = base + custom_questions(parse_questions(extra), [q.question for q in base])
        return questions, title, checklist or None

    def run(self, documents: list[str] | None, checklist: str | None, extra: str | None,
            request: gr.Request | None = None,
            progress: gr.Progress | None = gr.Progress(),  # noqa: B008 (Gradio's marker)
            ) -> tuple[Any, ...]:
        """Fill the table with the contracts of the user's matters; returns (review, layout,
        status, grid, question filter, cell view, xlsx, csv, md)."""
        who = self.who(request, "ask")
        try:
            questions, title, checklist_id = self._questions(checklist, extra)

            def on_progress(done: int, total: int, _cell: Cell) -> None:
                if progress is not None:
                    progress(done / total, desc=f"{done} / {total} cellules")

            if progress is not None:
                progress(0.0, desc="Préparation de la revue…")
            review = self.service.review(questions, list(documents or []) or None, title=title,
                                         checklist=checklist_id, progress=on_progress,
                                         matters=who.matters)
        except (ChecklistError, ReviewTooLarge, ValueError) as exc:
            raise gr.Error(str(exc), title="Revue impossible", print_exception=False) from None
        except IndexBusy as exc:
            raise gr.Error(str(exc), title="Index occupé", print_exception=False) from None
        except Exception:
            log.exception("review failed")
            raise gr.Error(MSG_REVIEW_FAILED, title="Erreur", print_exception=False) from None
        self.audit.write("review", who, client=client_of(request), origin="chat",
                         checklist=checklist_id, documents=len(review.documents),
                         questions=len(review.questions), review_id=review.id, status=200,
                         cached_cells=review.cached_cells)
        headers, rows, layout = grid_rows(review)
        files = self.exports(review)
        return (review, layout, status_html(review), grid_value(headers, rows),
                gr.Dropdown(choices=[(q.label, q.id) for q in review.questions], value=[],
                            multiselect=True),
                CELL_PLACEHOLDER, *[gr.DownloadButton(value=str(p), interactive=True)
                                    for p in files])

    def exports(self, review: Review) -> list[Path]:
        folder = Path(tempfile.mkdtemp(prefix="contractqa-review-"))
        return [write_export(review, fmt, folder / export_name(review, fmt))
                for fmt in ("xlsx", "csv", "md")]

    def filter(self, review: Review | None, question_ids: list[str] | None, cells: str,
               text: str | None) -> tuple[Any, Any]:
        """The grid again, with the filters applied; returns (layout, grid)."""
        if review is None:
            return gr.skip(), gr.skip()
        headers, rows, layout = grid_rows(review, question_ids, cells, text or "")
        return layout, grid_value(headers, rows)

    def select(self, review: Review | None, layout: GridLayout | None,
               evt: gr.SelectData, request: gr.Request | None = None) -> str:
        """A click on a cell shows its article with the quoted sentence marked."""
        who = self.who(request, "ask")
        if review is None or layout is None:
            return CELL_PLACEHOLDER
        index = evt.index if isinstance(evt.index, (list, tuple)) else [evt.index, 0]
        row, col = int(index[0]), int(index[1])
        if not (0 <= row < len(layout.documents)) or not (1 <= col <= len(layout.questions)):
            return CELL_PLACEHOLDER
        cell = review.cell(layout.documents[row], layout.questions[col - 1])
        if cell is None:
            return CELL_PLACEHOLDER
        article = ""
        if cell.status == "found" and cell.source is not None:
            try:
                article = self.service.article_text(cell.document_id, cell.source.section,
                                                    cell.source.article, who.matters)
            except Exception:  # the article's excerpt is shown instead
                log.exception("article_text failed for %s %s", cell.document_id,
                              cell.source.article)
        return cell_html(review, cell, article)

    def save_checklist(self, name: str | None, checklist: str | None, extra: str | None,
                       request: gr.Request | None = None) -> Any:
        """Save the chosen list and the typed questions as the user's own list."""
        self.who(request, "ask")
        try:
            questions, _title, _id = self._questions(checklist, extra)
            saved = self.service.checklists.save(name or "", questions)
        except ChecklistError as exc:
            raise gr.Error(str(exc), title="Liste non enregistrée",
                           print_exception=False) from None
        gr.Info(f"Liste « {saved.title} » enregistrée ({len(saved.questions)} questions).",
                title="Liste enregistrée")
        return gr.Dropdown(choices=self.checklist_choices(), value=saved.id)


def grid_value(headers: list[str], rows: list[list[str]]) -> Any:
    if not rows:
        rows = [["Aucune cellule ne correspond aux filtres.", *[""] * (len(headers) - 1)]]
    widths: list[str | int] = [200, *[260] * (len(headers) - 1)]
    return gr.Dataframe(value={"headers": headers, "data": rows}, headers=headers,
                        column_widths=widths)
