"""Parser quality against outlines transcribed by hand from real contract files.

`eval/gold/pool/outlines/*.json` hold, per contract of the pool, every numbered article and
sub-article as the contract prints it (number, heading, section), written by helpers who read
the file and never saw the parser's output. For each file the parser is scored on:

- article boundaries: precision and recall of the (annex or body, number) pairs it finds, each
  pair counted as often as it occurs (a number the contract prints twice is two articles);
  a lettered or ordinal sub-article ("a", "3°", printed again under each article) is keyed
  under its article, as the parser labels it ("9.a", "6.3°");
- headings: the share of matched articles whose heading equals the printed one (a number
  printed twice: the first found against the first printed, and so on);
- words kept: the share of the words of an independent extraction found in the parser's
  articles: every word outside running headers and footers, page numbers and tables of
  contents, these told apart from the file itself and never from the parser's decisions
  (poppler's positions and the PDF's own links for a PDF, the body's paragraphs of a DOCX:
  `eval/independent.py` defines them); and the parser's own word check (extracted words that
  cleaning kept, and the ones it dropped without a recorded reason, which must be 0).

`contractqa eval --outlines` prints the table; `docs/figures.md` keeps its figures.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.independent import independent_words
from eval.metrics import POOL_DIR, POOL_GOLD_DIR, document_path
from french.normalize import fold, folded_words
from ingest.pipeline import parse_file
from ingest.structure import roman_value

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


# A sub-article numbered within its article: a letter or an ordinal ("a", "B", "3°").
_SUB_ITEM = re.compile(r"^(?:[A-Za-z]|\d{1,2}°)$")


def _gold_numbers(articles: list[dict[str, Any]]) -> list[str | None]:
    """The gold's numbers, a lettered or ordinal one prefixed with its article's ("9.a"); under
    a section with no number it stays bare ("A"), as the parser labels it."""
    numbers: list[str | None] = []
    parent: str | None = None
    section: str | None = None
    for article in articles:
        number = article["number"]
        if article["section"] != section:
            section, parent = article["section"], None
        if number and _SUB_ITEM.match(number) and not _roman_next(parent, number):
            numbers.append(f"{parent}.{number}" if parent else number)
            continue
        parent = number
        numbers.append(number)
    return numbers


def _roman_next(parent: str | None, number: str) -> bool:
    """"V" after "IV" is the next roman article, not a lettered item."""
    before = roman_value(parent or "")
    return before is not None and roman_value(number) == before + 1


def _key(section: str | None, number: str | None, heading: str | None) -> str:
    """An article's identity: body or annex, and its number (its heading when unnumbered)."""
    where = "annex" if section and fold(section).startswith("annexe") else "body"
    if number and not any(c.isdigit() for c in number) and len(number) > 5:
        number = None  # an unnumbered section, labelled by its heading (as ingest.chunking)
    label = fold(number or "").replace(" ", "").rstrip(".") or "#" + _plain(heading)
    return f"{where}:{label}"


def _plain(text: str | None) -> str:
    return " ".join(folded_words(text or ""))


def _words(text: str) -> Counter[str]:
    return Counter(folded_words(text))


def _by_key(pairs: list[tuple[str, str | None]]) -> dict[str, list[str | None]]:
    """Key -> the headings of the articles with that key, in reading order."""
    out: dict[str, list[str | None]] = {}
    for key, heading in pairs:
        out.setdefault(key, []).append(heading)
    return out


def score_outline(path: Path, gold: dict[str, Any]) -> OutlineScore:
    parsed, _profile, _hash = parse_file(path)
    articles = gold["articles"]
    expected = _by_key([(_key(a["section"], number, a["heading"]), a["heading"])
                        for a, number in zip(articles, _gold_numbers(articles), strict=True)
                        if a["number"] != ""])
    found = _by_key([(_key(a.section, a.number, a.heading), a.heading) for a in parsed.articles
                     if a.number not in (None, "Préambule")])
    pairs = [(e, f) for key in expected.keys() & found.keys()
             for e, f in zip(expected[key], found[key], strict=False)]
    headings_ok = sum(_plain(e) == _plain(f) for e, f in pairs)
    words, _excluded = independent_words(path)
    reference = _words(" ".join(words))
    kept = _words("\n".join(a.text for a in parsed.articles))
    recall = sum(min(n, kept[w]) for w, n in reference.items()) / max(sum(reference.values()), 1)
    return OutlineScore(parsed.document_id, sum(map(len, expected.values())),
                        sum(map(len, found.values())), len(pairs),
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
