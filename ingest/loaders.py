"""Loaders for .txt/.md, .pdf and .docx contracts into lines with offsets and pages."""

from __future__ import annotations

import re
import unicodedata
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
    _check_content(path, suffix)
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


# What the content of each extension must be, by magic number (`filetype`): measured on the
# test PDFs and DOCX (fpdf2, python-docx) and Word-saved DOCX, detected as PDF and DOCX (or plain
# ZIP for some writers); .txt/.md files have no magic number (filetype.guess gives None).
_EXPECTED_MIME = {".pdf": ("application/pdf",),
                  ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml"
                            ".document", "application/zip")}
# A text file is refused when fewer than this share of its characters are letters, digits,
# spaces or usual punctuation. Measured: every sample contract, README and docs page >= 0.96;
# random bytes without NUL, decoded as cp1252 or latin-1, <= 0.80 (bytes 0x20-0xFF).
MIN_TEXT_SHARE = 0.9
_TEXT_SAMPLE = 100_000  # characters looked at (the start of the file)
_PUNCTUATION = frozenset(".,;:!?'\"()-–—«»’‘“”/%€$&*+=#[]_|<>@§°…•")


def _check_content(path: Path, suffix: str) -> None:
    """Refuse a file whose content is not what its extension says (sniffed, not trusted)."""
    import filetype

    head = path.read_bytes()[:8192] if suffix in _EXPECTED_MIME else path.read_bytes()[:262]
    kind = filetype.guess(head)
    found = kind.mime if kind else None
    expected = _EXPECTED_MIME.get(suffix)
    if expected is not None and found not in expected:
        what = f"du type {found}" if found else "d'un type non reconnu"
        kind_name = suffix.lstrip(".").upper()
        raise IngestError(
            f"{path}: {kind_name} illisible ou corrompu : ce n'est pas un fichier {kind_name} "
            f"(contenu {what}). Exportez à nouveau le contrat au bon format."
        )
    if expected is None and found is not None:
        raise IngestError(
            f"{path}: fichier binaire ({found}) et non du texte. Fournissez un PDF, DOCX ou "
            ".txt."
        )


def _text_share(text: str) -> float:
    sample = text[:_TEXT_SAMPLE]
    ok = sum(1 for c in sample if c.isalnum() or c.isspace() or c in _PUNCTUATION)
    return ok / max(len(sample), 1)


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
        # Composed accents (NFC) from the start: every offset below is one of the NFC text.
        for raw in unicodedata.normalize("NFC", block).split("\n"):
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
    text = raw.decode("latin-1")  # decodes anything: the last resort
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if _text_share(text) < MIN_TEXT_SHARE:
        raise IngestError(
            f"{path}: ce fichier ne contient pas du texte lisible (données binaires ?). "
            "Fournissez un PDF, DOCX ou .txt."
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A form feed marks a page break: keep it on its own line so pages can be counted.
    text = text.replace("\f", "\n\f\n")
    return [(text, None)]


def _markdown_pages(path: Path) -> list[tuple[str, int | None]]:
    from ingest.markdown import markdown_blocks

    (text, _level), = _text_pages(path)
    return markdown_blocks(text)


# PDF extractors, best first. Measured by bench/pdf_extractors.py on the PDFs the tests build
# (justified text, running header and footer, ligatures, two columns): PDFium keeps every word,
# expands ligatures and reads columns in order at about 7 ms a document; pypdf keeps the words
# but doubles the spaces of justified lines and keeps ligature characters (about 40 ms);
# pdfplumber interleaves two columns line by line and takes about 300 ms, so it is not used.
# On the issue-15 lease pypdf returned every digit as a NUL byte where PDFium read them right.
PDF_EXTRACTORS = ("pdfium", "pypdf")
# Extracted text whose share of unreadable characters (control characters, U+FFFD, private-use
# glyphs) exceeds this is not text: a PDF whose fonts have no Unicode map gives 100 % (the test
# PDF without ToUnicode maps); clean PDFs give 0. One NUL byte is enough (a digit lost).
MAX_UNREADABLE_SHARE = 0.005
# A page where most lines hold one word was cut word by word (pypdf on justified text in the
# issue-15 partnership convention); 60 % of at least 20 lines never occurs in a laid-out page.
ONE_WORD_SHARE = 0.6
ONE_WORD_MIN_LINES = 20
_LIGATURES = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ: expanded by NFKC, nothing else is
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd\ufffe\ue000-\uf8ff]")


def _pdf_pages(path: Path) -> list[tuple[str, int | None]]:
    problems: list[str] = []
    for name in PDF_EXTRACTORS:
        pages = _extract(path, name)
        if sum(len(text.strip()) for text in pages) < 20:
            raise IngestError(
                f"{path}: PDF sans couche texte (document scanné ?). Passez-le d'abord par un OCR "
                "(par ex. ocrmypdf) puis réessayez."
            )
        joined = "".join(pages)
        bad = len(_UNREADABLE.findall(joined))
        if "\x00" not in joined and bad <= MAX_UNREADABLE_SHARE * len(joined.replace(" ", "")):
            return [(_fix_pdf_text(text), None) for text in pages]
        problems.append(f"{name} : {bad} caractères illisibles")
    raise IngestError(
        f"{path}: le texte du PDF est illisible ({'; '.join(problems)}) : ses polices ne disent "
        "pas quelles lettres elles dessinent. Exportez à nouveau le PDF depuis le traitement de "
        "texte (polices incorporées), ou passez-le par un OCR (ocrmypdf --force-ocr) puis "
        "réessayez."
    )


def _extract(path: Path, name: str) -> list[str]:
    """The text of each page of the PDF by one extractor; IngestError when it cannot be read."""
    try:
        return _pdfium_pages(path) if name == "pdfium" else _pypdf_pages(path)
    except IngestError:
        raise
    except Exception as exc:  # any failure of a PDF parser is a damaged file for the user
        raise IngestError(
            f"{path}: PDF illisible ou corrompu. Exportez à nouveau le PDF depuis l'original."
        ) from exc


def _pdfium_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise _password_error(path) from exc
        raise
    try:
        if len(document) == 0:
            raise IngestError(f"{path}: PDF sans page. Exportez à nouveau le PDF.")
        pages: list[str] = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def _pypdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted and not reader.decrypt(""):
        raise _password_error(path)
    if not reader.pages:
        raise IngestError(f"{path}: PDF sans page. Exportez à nouveau le PDF.")
    return [page.extract_text() or "" for page in reader.pages]


def _password_error(path: Path) -> IngestError:
    return IngestError(
        f"{path}: PDF protégé par un mot de passe. Retirez la protection puis réessayez."
    )


def _fix_pdf_text(text: str) -> str:
    """Line ends unified, ligature characters expanded ("ﬁ" -> "fi", NFKC on them only), and a
    page cut one word per line joined back into lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _LIGATURES.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return _rejoin_words(text)


def _rejoin_words(text: str) -> str:
    """Join the lines of a page extracted one word per line; other pages are returned as is."""
    lines = text.split("\n")
    filled = [ln for ln in lines if ln.strip()]
    single = sum(1 for ln in filled if len(ln.split()) == 1)
    if len(filled) < ONE_WORD_MIN_LINES or single < ONE_WORD_SHARE * len(filled):
        return text
    out: list[str] = []
    for line in lines:
        words = line.split()
        if out and len(words) == 1 and out[-1] and not out[-1].endswith((".", ":", ";")):
            out[-1] = f"{out[-1]} {words[0]}"
        else:
            out.append(line.strip())
    return "\n".join(out)


# "Heading 2", "Titre 2" (Word in French), and custom styles whose name holds heading/titre and a
# level ("Titre article 1"). "Titre"/"Title" alone is the document-title style, not a heading.
_HEADING_STYLE = re.compile(r"(?:heading|titre)\D*(\d)", re.IGNORECASE)
_HAS_NUMBER = re.compile(r"^\s*(?:article\s+)?(?:\d|[IVX]{1,5}[.\s)-]|[A-Za-z][.)]\s)",
                         re.IGNORECASE)


def _docx_paragraphs(path: Path) -> list[tuple[str, int | None]]:
    """Paragraphs and tables in body order, with Word's automatic numbers printed as Word does."""
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    from ingest.docx_numbering import paragraph_numbering, read_numbering

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(
            f"{path}: fichier DOCX illisible ou corrompu. Ouvrez-le dans Word et enregistrez-le "
            "à nouveau au format .docx."
        ) from exc
    numbering = read_numbering(doc)
    counters = [0] * 10
    blocks: list[tuple[str, int | None]] = []
    for element in doc.element.body.iterchildren():
        if element.tag.endswith("}tbl"):
            table = Table(element, doc)
            rows = _layout_cells(table) if _is_layout_table(table) else _table_rows(table)
            blocks.extend((row, None) for row in rows)
            continue
        if not element.tag.endswith("}p"):
            continue
        paragraph = Paragraph(element, doc)
        text = paragraph.text
        level = _heading_level(paragraph)
        if level is not None and text.strip():
            counters[level - 1] += 1
            for deeper in range(level, len(counters)):
                counters[deeper] = 0
        numbered = paragraph_numbering(paragraph, numbering)
        label = numbering.label(*numbered) if numbered else None
        if label is None and numbered and level is not None and text.strip():
            # A list Word defines elsewhere (or not at all): number the heading by its level.
            label = ".".join(str(c) for c in counters[:level] if c) + "."
        if label and text.strip() and not _HAS_NUMBER.match(text):
            text = f"{label} {text.strip()}"
        blocks.append((text, level if text.strip() else None))
    return blocks


def _heading_level(paragraph: object) -> int | None:
    style = getattr(paragraph, "style", None)
    name = style.name if style is not None and style.name else ""
    if match := _HEADING_STYLE.search(name):
        return int(match.group(1)) or None
    return None


# A table used to lay a page out (a form in two columns, the whole contract in its cells) is
# read cell by cell, each paragraph a line; a data table row by row as "cell | cell". A cell of
# more than 3 paragraphs or 400 characters is layout: the data tables of the pool's contracts
# (fees, hours, service levels) have short cells; the internship agreement's columns hold whole
# articles (measured on the pool's DOCX and the tests' tables). A table nested in a layout cell
# is judged the same way (the agreement's article 13 and signatures sit in one).
_LAYOUT_PARAGRAPHS = 3
_LAYOUT_CHARS = 400


def _is_layout_table(table: object) -> bool:
    for row in getattr(table, "rows", []):
        for cell in row.cells:
            texts = [p.text for p in cell.paragraphs if p.text.strip()]
            if len(texts) > _LAYOUT_PARAGRAPHS or sum(len(t) for t in texts) > _LAYOUT_CHARS:
                return True
    return False


def _layout_cells(table: object) -> list[str]:
    """The paragraphs of a layout table, cell by cell in reading order (merged cells once)."""
    lines: list[str] = []
    # The cell elements themselves, not their id(): a freed lxml proxy's id is reused by the
    # next cell's (a nested table of the pool's internship agreement lost a cell that way).
    seen: set[object] = set()
    for row in getattr(table, "rows", []):
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            for block in cell.iter_inner_content():
                if hasattr(block, "rows"):  # a table in the cell: laid out, or data rows
                    lines.extend(_layout_cells(block) if _is_layout_table(block)
                                 else _table_rows(block))
                else:
                    lines.append(block.text)
            lines.append("")
    return lines


def _table_rows(table: object) -> list[str]:
    """One "cell | cell" line per row, merged cells once, nested paragraphs joined."""
    rows: list[str] = []
    for row in getattr(table, "rows", []):
        cells: list[str] = []
        seen: set[object] = set()  # elements, not id()s: see _layout_cells
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
