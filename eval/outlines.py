"""Parser quality against outlines transcribed by hand from real contract files.

`eval/gold/pool/outlines/*.json` hold, per contract of the pool, every numbered article and
sub-article as the contract prints it (number, heading, section), written by helpers who read
the file and never saw the parser's output. For each file the parser is scored on:

- article boundaries: precision and recall of the (annex or body, number) pairs it finds;
- headings: the share of matched articles whose heading equals the printed one;
- words kept: the share of the words of an independent extraction (poppler's pdftotext for a
  PDF, the document's own paragraphs for the others) found in the parser's articles, and the
  parser's own word check (extracted words that cleaning kept, and the ones it dropped
  without a recorded reason, which must be 0).

`contractqa eval --outlines` prints the table; `docs/figures.md` keeps its figures.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import POOL_DIR, POOL_GOLD_DIR, document_path
from french.normalize import fold, folded_words
from ingest.pipeline import parse_file

OUTLINES_DIR = POOL_GOLD_DIR / "outlines"


@dataclass(frozen=True)
class OutlineScore:
    document: str
    gold: int
    found: int
    matched: int
    headings_ok: int
    words_recall: float  # independent extraction's words found in the articles
    kept_share: float  # the parser's own check: words kept after cleaning / extracted
    unexplained: int  # words cleaning dropped without a recorded reason (must be 0)

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def heading_accuracy(self) -> float:
        return self.headings_ok / self.matched if self.matched else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4),
                "heading_accuracy": round(self.heading_accuracy, 4)}


def _key(section: str | None, number: str | None, heading: str | None) -> str:
    """An article's identity: body or annex, and its number (its heading when unnumbered)."""
    where = "annex" if section and fold(section).startswith("annexe") else "body"
    if number and not any(c.isdigit() for c in number) and len(number) > 5:
        number = None  # an unnumbered section, labelled by its heading (as ingest.chunking)
    label = fold(number or "").replace(" ", "").rstrip(".") or "#" + _plain(heading)
    return f"{where}:{label}"


def _plain(text: str | None) -> str:
    return " ".join(folded_words(text or ""))


def independent_text(path: Path) -> str:
    """The file's words as another tool reads them: poppler for a PDF, else the file's own
    paragraphs (python-docx, or the raw text)."""
    if path.suffix.lower() == ".pdf":
        return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout
    if path.suffix.lower() == ".docx":
        from docx import Document

        doc = Document(str(path))
        cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in doc.paragraphs] + cells)
    return path.read_text(encoding="utf-8", errors="replace")


def _words(text: str) -> Counter[str]:
    return Counter(folded_words(text))


def score_outline(path: Path, gold: dict[str, Any]) -> OutlineScore:
    parsed, _profile, _hash = parse_file(path)
    expected = {_key(a["section"], a["number"], a["heading"]): a["heading"]
                for a in gold["articles"] if a["number"] != ""}
    found = {_key(a.section, a.number, a.heading): a.heading for a in parsed.articles
             if a.number not in (None, "Préambule")}
    matched = set(expected) & set(found)
    headings_ok = sum(_plain(expected[k]) == _plain(found[k]) for k in matched)
    reference = _words(independent_text(path))
    kept = _words("\n".join(a.text for a in parsed.articles))
    recall = sum(min(n, kept[w]) for w, n in reference.items()) / max(sum(reference.values()), 1)
    return OutlineScore(parsed.document_id, len(expected), len(found), len(matched),
                        headings_ok, round(recall, 4), round(parsed.words.kept_share, 4),
                        parsed.words.unexplained)


def score_all() -> list[OutlineScore]:
    """Every hand outline whose contract file is in the pool folder."""
    scores = []
    for gold_path in sorted(OUTLINES_DIR.glob("*.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        path = document_path(gold["document"])
        if path is not None and path.parent == POOL_DIR:
            scores.append(score_outline(path, gold))
    return scores


def outline_table(scores: list[OutlineScore]) -> str:
    lines = ["| contract | gold articles | found | boundary precision | boundary recall | "
             "headings | words (independent extraction) | words kept (own check) |",
             "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.document} | {s.gold} | {s.found} | {s.precision:.3f} | "
                     f"{s.recall:.3f} | {s.heading_accuracy:.3f} | {s.words_recall:.3f} | "
                     f"{s.kept_share:.3f} |")
    if scores:
        gold = sum(s.gold for s in scores)
        found = sum(s.found for s in scores)
        matched = sum(s.matched for s in scores)
        headings = sum(s.headings_ok for s in scores)
        lines.append(f"| all ({len(scores)} files) | {gold} | {found} | "
                     f"{matched / max(found, 1):.3f} | {matched / max(gold, 1):.3f} | "
                     f"{headings / max(matched, 1):.3f} | "
                     f"{min(s.words_recall for s in scores):.3f} (min) | "
                     f"{min(s.kept_share for s in scores):.3f} (min) |")
    return "\n".join(lines)
