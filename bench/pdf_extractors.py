"""Compare PDF text extractors (PDFium, pypdf, pdfplumber) on the laid-out PDFs the tests build.

For each PDF: share of the body words found in order, unreadable characters, lines, time.
Run: PYTHONPATH=. python bench/pdf_extractors.py  (pdfplumber is optional: pip install it).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ingest.loaders import _UNREADABLE, _pdfium_pages, _pypdf_pages
from tests.helpers_pdf import body_words, contract_pdf, sample_articles, without_unicode_maps


def _plumber_pages(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def _in_order(expected: list[str], text: str) -> float:
    """Share of the expected words found in the text, in order (a greedy subsequence)."""
    words = re.findall(r"\w+", text.replace("\ufb01", "fi").replace("\ufb02", "fl"))
    position, found = 0, 0
    for word in (w for e in expected for w in re.findall(r"\w+", e)):
        try:
            position = words.index(word, position) + 1
            found += 1
        except ValueError:
            continue
    total = sum(len(re.findall(r"\w+", e)) for e in expected)
    return found / total if total else 1.0


def main() -> None:
    extractors: dict[str, Callable[[Path], list[str]]] = {
        "pdfium": _pdfium_pages, "pypdf": _pypdf_pages, "pdfplumber": _plumber_pages,
    }
    articles = sample_articles(count=12)
    expected = body_words(articles)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        files = {
            "justified": out / "justified.pdf",
            "ligatures": out / "ligatures.pdf",
            "two-columns": out / "columns.pdf",
            "no-unicode-map": out / "nomap.pdf",
        }
        contract_pdf(files["justified"], articles)
        contract_pdf(files["ligatures"], articles, ligatures=True)
        contract_pdf(files["two-columns"], articles, columns=2, toc=False)
        without_unicode_maps(files["justified"], files["no-unicode-map"])
        print(f"{'pdf':16} {'extractor':11} {'words':>6} {'unread':>7} {'lines':>6} {'ms':>7}")
        for name, path in files.items():
            for extractor, pages_of in extractors.items():
                started = time.perf_counter()
                pages = pages_of(path)
                elapsed = (time.perf_counter() - started) * 1000
                text = "\n".join(pages)
                print(f"{name:16} {extractor:11} {_in_order(expected, text):6.3f} "
                      f"{len(_UNREADABLE.findall(text)):7d} {text.count(chr(10)):6d} "
                      f"{elapsed:7.1f}")


if __name__ == "__main__":
    main()
