"""Loaders for .txt/.md, .pdf and .docx contracts into lines with offsets and pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ingest.models import IngestError, Line, LoadedDocument

SUPPORTED = (".txt", ".md", ".pdf", ".docx")


def document_id_for(path: Path) -> str:
    """A document's id is its file name without extension."""
    return path.stem


def load(path: Path, max_mb: float = 20.0) -> LoadedDocument:
    """Load one contract file; raise IngestError with a message naming the file and the fix."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(
            f"{path}: format « {suffix or 'sans extension'} » non pris en charge. "
            f"Convertissez le fichier en PDF, DOCX ou texte ({', '.join(SUPPORTED)})."
        )
    if not path.is_file():
        raise IngestError(f"{path}: fichier introuvable. Vérifiez le chemin.")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path}: le fichier est vide. Exportez à nouveau le contrat.")
    if size > max_mb * 1024 * 1024:
        raise IngestError(
            f"{path}: fichier trop volumineux ({size / 1048576:.1f} Mo > {max_mb:g} Mo). "
            "Découpez le document ou augmentez CONTRACTQA_MAX_FILE_MB."
        )
    loader: Callable[[Path], list[tuple[str, int | None]]] = {
        ".txt": _text_pages,
        ".md": _markdown_pages,
        ".pdf": _pdf_pages,
        ".docx": _docx_paragraphs,
    }[suffix]
    pages = loader(path)
    document = _assemble(document_id_for(path), str(path), pages, suffix.lstrip("."))
    if not document.text.strip():
        raise IngestError(f"{path}: aucun texte trouvé dans le fichier. Vérifiez son contenu.")
    return document


def _assemble(
    document_id: str, source: str, blocks: list[tuple[str, int | None]], file_type: str
) -> LoadedDocument:
    """Join blocks (a page of text, or a DOCX paragraph with its heading level) into lines."""
    lines: list[Line] = []
    parts: list[str] = []
    offset = 0
    page = 1
    for block, level in blocks:
        if file_type == "pdf" and parts:
            page += 1
        for raw in block.split("\n"):
            if raw == "\f":
                page += 1
                raw = ""
            lines.append(Line(raw, offset, page, level))
            parts.append(raw)
            offset += len(raw) + 1
    return LoadedDocument(document_id, source, "\n".join(parts), lines, file_type)


def _text_pages(path: Path) -> list[tuple[str, int | None]]:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise IngestError(
            f"{path}: fichier binaire, pas du texte. Fournissez un PDF, DOCX ou .txt."
        )
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A form feed marks a page break: keep it on its own line so pages can be counted.
    text = text.replace("\f", "\n\f\n")
    return [(text, None)]


def _markdown_pages(path: Path) -> list[tuple[str, int | None]]:
    from ingest.markdown import markdown_blocks

    (text, _level), = _text_pages(path)
    return markdown_blocks(text)


def _pdf_pages(path: Path) -> list[tuple[str, int | None]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(
                f"{path}: PDF protégé par un mot de passe. Retirez la protection puis réessayez."
            )
        pages = [(page.extract_text() or "", None) for page in reader.pages]
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(
            f"{path}: PDF illisible ou corrompu ({exc.__class__.__name__}). "
            "Exportez à nouveau le PDF depuis l'original."
        ) from exc
    if not pages:
        raise IngestError(f"{path}: PDF sans page. Exportez à nouveau le PDF.")
    if sum(len(text.strip()) for text, _ in pages) < 20:
        raise IngestError(
            f"{path}: PDF sans couche texte (document scanné ?). Passez-le d'abord par un OCR "
            "(par ex. ocrmypdf) puis réessayez."
        )
    return [(_fix_pdf_text(text), None) for text, _ in pages]


def _fix_pdf_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_HEADING_STYLE = re.compile(r"^(?:heading|titre)\s*(\d)$", re.IGNORECASE)


def _docx_paragraphs(path: Path) -> list[tuple[str, int | None]]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(
            f"{path}: fichier DOCX illisible ou corrompu. Ouvrez-le dans Word et enregistrez-le "
            "à nouveau au format .docx."
        ) from exc
    counters = [0] * 10
    blocks: list[tuple[str, int | None]] = []
    for paragraph in doc.paragraphs:
        text = paragraph.text
        style = paragraph.style.name if paragraph.style is not None else ""
        match = _HEADING_STYLE.match(style or "")
        if match and text.strip():
            level = int(match.group(1))
            counters[level - 1] += 1
            for deeper in range(level, len(counters)):
                counters[deeper] = 0
            if not re.match(r"^\s*(?:article\s+)?\d", text, re.IGNORECASE) and _auto_numbered(
                paragraph
            ):
                # Word's automatic numbering is not in the text: print it like the PDF would.
                number = ".".join(str(c) for c in counters[:level] if c)
                text = f"{number}. {text.strip()}"
            blocks.append((text, level))
        else:
            blocks.append((text, None))
    return blocks


def _auto_numbered(paragraph: object) -> bool:
    """True when the paragraph (or its style) carries Word list numbering."""
    element = getattr(paragraph, "_p", None)
    if element is not None and element.pPr is not None and element.pPr.numPr is not None:
        return True
    style = getattr(paragraph, "style", None)
    while style is not None:
        ppr = getattr(style.element, "pPr", None)
        if ppr is not None and ppr.numPr is not None:
            return True
        style = style.base_style
    return False
