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
from typing import Literal

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


def to_xlsx(review: Review) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    wrap = Alignment(wrap_text=True, vertical="top")
    bold = Font(bold=True)
    absent_fill = PatternFill("solid", start_color="FEF3C7", end_color="FEF3C7")
    header_fill = PatternFill("solid", start_color="E0E7FF", end_color="E0E7FF")

    book = Workbook()
    grid = book.active
    grid.title = "Revue"
    sources = book.create_sheet("Sources")
    questions = book.create_sheet("Questions")

    source_headers = ["Contrat", "Identifiant", "Question", "Citation exacte", "Article",
                      "Intitulé", "Partie", "Pages", "Confiance", "Résumé", "Remarque",
                      "Extrait complet"]
    sources.append(source_headers)
    source_row: dict[tuple[str, str], int] = {}
    for d in review.documents:
        for q in review.questions:
            cell = review.cell(d.document_id, q.id)
            if cell is None:
                continue
            s = cell.source
            sources.append([
                d.title, d.document_id, q.label,
                cell.quote if cell.status == "found" else cell.text,
                s.article if s else "", s.heading if s else "", s.section if s else "",
                format_pages(s.pages) if s else "",
                cell.confidence if cell.confidence is not None else "",
                cell.summary or "", " ".join(x for x in (cell.note, cell.summary_note) if x),
                s.excerpt if s else "",
            ])
            source_row[(d.document_id, q.id)] = sources.max_row

    grid.append(["Contrat", *[q.label for q in review.questions]])
    for d in review.documents:
        grid.append([d.title, *[cell_text(review.cell(d.document_id, q.id))
                                for q in review.questions]])
        row = grid.max_row
        for col, q in enumerate(review.questions, start=2):
            target = source_row.get((d.document_id, q.id))
            xl = grid.cell(row, col)
            if target:
                xl.hyperlink = Hyperlink(ref=xl.coordinate, location=f"'Sources'!A{target}")
            cell = review.cell(d.document_id, q.id)
            if cell is not None and cell.status != "found":
                xl.fill = absent_fill

    questions.append(["Colonne", "Question posée à chaque contrat", "Identifiant"])
    for q in review.questions:
        questions.append([q.label, q.question, q.id])
    questions.append([])
    for key, value in (("Revue", review.title), ("Identifiant de la revue", review.id),
                       ("Créée le", review.created_at.replace("T", " ")),
                       ("Mode", mode_label(review)),
                       ("Contrats", len(review.documents)),
                       ("Cellules « Non prévu »", review.counts()["absent"])):
        questions.append([key, value])

    for sheet, widths in ((grid, [32] + [46] * len(review.questions)),
                          (sources, [28, 22, 24, 60, 10, 28, 14, 10, 10, 40, 30, 80]),
                          (questions, [28, 90, 24])):
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[_column(i)].width = width
        for row in sheet.iter_rows():
            for xl in row:
                xl.alignment = wrap
        for xl in sheet[1]:
            xl.font = bold
            xl.fill = header_fill
        sheet.freeze_panes = "B2"
    grid.auto_filter.ref = grid.dimensions
    sources.auto_filter.ref = sources.dimensions

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


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
