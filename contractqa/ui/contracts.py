"""Rendering of the contracts tab: ingest reports, the indexed contracts, article outlines."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contractqa.routes.documents import matches
from contractqa.ui.render import article_label, format_pages, optional_text

if TYPE_CHECKING:
    from contractqa.service import IngestReport


def clean_message(message: str, path: Path) -> str:
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
        if r.status in ("indexed", "replaced"):
            icon, cls = ("✓", "ok") if r.status == "indexed" else ("↻", "ok")
            note = clean_message(r.note, Path(r.path))
            text = (f"{note[:1].upper()}{note[1:]} : " if note else "") + (
                f"{r.articles} article(s) trouvé(s), {r.chunks} passage(s) indexé(s).")
        elif r.status == "unchanged":
            icon, cls = "=", "same"
            text = "Déjà indexé à l'identique : rien à faire."
        else:
            icon, cls = "✗", "err"
            text = clean_message(r.message, Path(r.path)) or "Le fichier n'a pas pu être lu."
        extra = clean_message(r.message, Path(r.path)) if r.status != "error" else ""
        if extra and not _ARTICLES_ONLY.fullmatch(extra):
            text += " " + extra
        rows.append(
            f'<li class="cq-file cq-{cls}"><span class="cq-icon">{icon}</span>'
            f'<span class="cq-fname">{name}</span> '
            f'<span class="cq-fmsg">{html.escape(text)}</span></li>'
        )
    return f'<ul class="cq-files">{"".join(rows)}</ul>'


# Rows the contracts table shows: a firm's base of thousands is searched, not scrolled.
DOCUMENTS_SHOWN = 100


def documents_html(documents: Sequence[Any], query: str = "") -> str:
    """The indexed contracts whose title, id, file name or names hold the words of `query`
    (all without one), as a table (title, identifier, articles, passages), the first
    `DOCUMENTS_SHOWN` of them."""
    if not documents:
        return '<div class="cq-empty">Aucun contrat indexé pour l\'instant.</div>'
    found = [d for d in documents if matches(d, query)]
    if not found:
        return (f'<div class="cq-empty">Aucun contrat ne correspond à « {html.escape(query)} » '
                f"parmi les {len(documents)} indexés.</div>")
    note = ""
    if len(found) > DOCUMENTS_SHOWN:
        note = (f'<div class="cq-note">{DOCUMENTS_SHOWN} contrats affichés sur {len(found)} : '
                "précisez la recherche.</div>")
    documents = found[:DOCUMENTS_SHOWN]
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
        f"<tbody>{rows}</tbody></table>{note}"
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
        label = article_label(optional_text(item.get("section")),
                              optional_text(item.get("article")),
                              optional_text(item.get("heading")))
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

