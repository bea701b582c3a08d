"""Exports of a review table: XLSX (openpyxl), CSV and Markdown.

- XLSX: sheet « Revue », one row per contract and one column per question, each cell the
  quote and its citation (a link to its row of « Sources »); sheet « Sources », one row per
  cell with the article, heading, pages, confidence, summary and the whole excerpt; sheet
  « Questions », the full questions and how the table was made.
- CSV: the « Revue » grid, `;`-separated in UTF-8 with a byte-order mark, as a French Excel
  opens it.
- Markdown: a compact table of citations, then each contract's answers with their quotes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Literal

from contractqa.review import Cell, Review
from contractqa.ui.render import article_label, format_pages

ExportFormat = Literal["xlsx", "csv", "md"]
FORMATS: dict[ExportFormat, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
MODE_LABELS = {"extractive": "extractif (citations exactes, sans texte généré)"}


def citation_text(cell: Cell) -> str:
    """'Article 10.2 — Limitation de responsabilité (p. 5)', or '' for an absent cell."""
    source = cell.source
    if cell.status != "found" or source is None:
        return ""
    label = article_label(source.section, source.article, source.heading)
    pages = format_pages(source.pages)
    return f"{label} ({pages})" if pages else label


def cell_text(cell: Cell | None) -> str:
    """What a table cell shows: summary, quote and citation; or "Non prévu par le contrat"."""
    if cell is None:
        return ""
    if cell.status != "found":
        return cell.text
    lines = [cell.summary] if cell.summary else []
    lines.append(f"« {cell.quote} »")
    lines.append(f"— {citation_text(cell)}")
    return "\n".join(lines)


def mode_label(review: Review) -> str:
    if review.mode.startswith("llm:"):
        return f"extractif, résumés d'une ligne par {review.mode[4:]} (chiffres vérifiés)"
    return MODE_LABELS.get(review.mode, review.mode)


def _grid(review: Review) -> list[list[str]]:
    rows = [["Contrat", *[q.label for q in review.questions]]]
    for d in review.documents:
        rows.append([d.title, *[cell_text(review.cell(d.document_id, q.id))
                                for q in review.questions]])
    return rows


def to_csv(review: Review) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerows(_grid(review))
    return out.getvalue().encode("utf-8-sig")


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(review: Review) -> str:
    out = [f"# {review.title}", "",
           f"*{len(review.documents)} contrat(s) × {len(review.questions)} question(s) — "
           f"{review.created_at.replace('T', ' ')} — mode {mode_label(review)}.*", ""]
    out.append("| Contrat | " + " | ".join(_md(q.label) for q in review.questions) + " |")
    out.append("|---" * (len(review.questions) + 1) + "|")
    for d in review.documents:
        refs = []
        for q in review.questions:
            cell = review.cell(d.document_id, q.id)
            refs.append(_md(citation_text(cell) or cell.text) if cell else "")
        out.append(f"| {_md(d.title)} | " + " | ".join(refs) + " |")
    out.append("")
    for d in review.documents:
        out += [f"## {d.title}", "", f"`{d.document_id}`", ""]
        for q in review.questions:
            cell = review.cell(d.document_id, q.id)
            if cell is None:
                continue
            out.append(f"**{q.label}** — {q.question}")
            out.append("")
            if cell.status == "found":
                if cell.summary:
                    out += [f"{cell.summary}", ""]
                out += [f"> « {' '.join(cell.quote.split())} »", "",
                        f"— {citation_text(cell)}", ""]
            else:
                out += [f"*{cell.text}.* {cell.note}".rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"


_ABSENT_FILL = "FEF3C7"
_HEADER_FILL = "E0E7FF"
_SOURCE_HEADERS = ["Contrat", "Identifiant", "Question", "Citation exacte", "Article",
                   "Intitulé", "Partie", "Pages", "Confiance", "Résumé", "Remarque",
                   "Extrait complet"]


def to_xlsx(review: Review) -> bytes:
    """The table (each cell linked to its row of sources), the sources, the questions."""
    from openpyxl import Workbook

    book = Workbook()
    grid = book.active
    grid.title = "Revue"
    sources = book.create_sheet("Sources")
    questions = book.create_sheet("Questions")
    source_row = _xlsx_sources(sources, review)
    _xlsx_grid(grid, review, source_row)
    _xlsx_questions(questions, review)
    for sheet, widths in ((grid, [32] + [46] * len(review.questions)),
                          (sources, [28, 22, 24, 60, 10, 28, 14, 10, 10, 40, 30, 80]),
                          (questions, [28, 90, 24])):
        _xlsx_layout(sheet, widths)
    grid.auto_filter.ref = grid.dimensions
    sources.auto_filter.ref = sources.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_sources(sheet: Any, review: Review) -> dict[tuple[str, str], int]:
    """One row per cell with its citation; returns each cell's row."""
    sheet.append(_SOURCE_HEADERS)
    rows: dict[tuple[str, str], int] = {}
    for d in review.documents:
        for q in review.questions:
            cell = review.cell(d.document_id, q.id)
            if cell is None:
                continue
            s = cell.source
            sheet.append([
                d.title, d.document_id, q.label,
                cell.quote if cell.status == "found" else cell.text,
                s.article if s else "", s.heading if s else "", s.section if s else "",
                format_pages(s.pages) if s else "",
                cell.confidence if cell.confidence is not None else "",
                cell.summary or "", " ".join(x for x in (cell.note, cell.summary_note) if x),
                s.excerpt if s else "",
            ])
            rows[(d.document_id, q.id)] = sheet.max_row
    return rows


def _xlsx_grid(sheet: Any, review: Review, source_row: dict[tuple[str, str], int]) -> None:
    """A row per contract, a column per question; a cell links to its source row, and one
    the contract does not provide for is shaded."""
    from openpyxl.styles import PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    absent = PatternFill("solid", start_color=_ABSENT_FILL, end_color=_ABSENT_FILL)
    sheet.append(["Contrat", *[q.label for q in review.questions]])
    for d in review.documents:
        sheet.append([d.title, *[cell_text(review.cell(d.document_id, q.id))
                                 for q in review.questions]])
        row = sheet.max_row
        for col, q in enumerate(review.questions, start=2):
            target = source_row.get((d.document_id, q.id))
            xl = sheet.cell(row, col)
            if target:
                xl.hyperlink = Hyperlink(ref=xl.coordinate, location=f"'Sources'!A{target}")
            cell = review.cell(d.document_id, q.id)
            if cell is not None and cell.status != "found":
                xl.fill = absent


def _xlsx_questions(sheet: Any, review: Review) -> None:
    """The questions asked, then what the review was."""
    sheet.append(["Colonne", "Question posée à chaque contrat", "Identifiant"])
    for q in review.questions:
        sheet.append([q.label, q.question, q.id])
    sheet.append([])
    for key, value in (("Revue", review.title), ("Identifiant de la revue", review.id),
                       ("Créée le", review.created_at.replace("T", " ")),
                       ("Mode", mode_label(review)),
                       ("Contrats", len(review.documents)),
                       ("Cellules « Non prévu »", review.counts()["absent"])):
        sheet.append([key, value])


def _xlsx_layout(sheet: Any, widths: list[int]) -> None:
    """Column widths, wrapped text, a bold shaded header row frozen with the first column."""
    from openpyxl.styles import Alignment, Font, PatternFill

    wrap = Alignment(wrap_text=True, vertical="top")
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[_column(i)].width = width
    for row in sheet.iter_rows():
        for xl in row:
            xl.alignment = wrap
    for xl in sheet[1]:
        xl.font = Font(bold=True)
        xl.fill = PatternFill("solid", start_color=_HEADER_FILL, end_color=_HEADER_FILL)
    sheet.freeze_panes = "B2"


def _column(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def export_bytes(review: Review, fmt: ExportFormat) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(review)
    if fmt == "csv":
        return to_csv(review)
    return to_markdown(review).encode("utf-8")


def export_name(review: Review, fmt: ExportFormat) -> str:
    return f"revue-{review.created_at[:10]}-{review.id}.{fmt}"


def write_export(review: Review, fmt: ExportFormat, path: Path) -> Path:
    path.write_bytes(export_bytes(review, fmt))
    return path
