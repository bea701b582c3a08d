"""The gold questions are well formed, quote their contracts verbatim, and use parser labels."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eval.metrics import GOLD_DIR, TYPES, document_path, norm, norm_article
from ingest.pipeline import parse_file

KEYS = ["id", "type", "question", "document", "section", "articles", "heading", "evidence",
        "answer_contains", "targets"]
TARGET_KEYS = {"document", "section", "articles", "heading", "evidence"}
# Gold labels that are right but that the parser does not produce yet (reported, not failed).
# NumSpot Annexe 1 items "2. ..", "3. Paiement des factures", "4. .." are merged into item 1.


def _lines() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                out.append((f"{path.name}:{n}", json.loads(line)))
    return out


GOLD = _lines()


def _path(document: str) -> Path:
    path = document_path(document)
    assert path is not None, f"unknown document {document}"
    return path


@cache
def _text(document: str) -> str:
    return norm(_path(document).read_text(encoding="utf-8"))


@cache
def _outline(document: str) -> frozenset[tuple[str | None, str]]:
    parsed, _profile, _hash = parse_file(_path(document))
    return frozenset((a.section, a.number) for a in parsed.articles if a.number)


def _entries(q: dict[str, Any]) -> list[dict[str, Any]]:
    return q["targets"] or ([q] if q["document"] and q["evidence"] else [])


def test_keys_types_and_ids() -> None:
    ids = [q["id"] for _, q in GOLD]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for where, q in GOLD:
        assert list(q) == KEYS, where
        assert q["type"] in TYPES, where
        for t in q["targets"]:
            assert TARGET_KEYS <= set(t), where
        if q["type"] in ("comparison", "multihop"):
            assert len(q["targets"]) >= 2, f"{where}: comparison/multihop need >= 2 targets"
        if q["type"] == "unanswerable":
            assert not q["evidence"] and not q["answer_contains"], where
        else:
            assert q["evidence"], f"{where}: answerable question needs evidence"


def test_counts() -> None:
    extra = [q for where, q in GOLD if where.startswith("extra.jsonl")]
    assert len(GOLD) - len(extra) >= 120
    assert len(extra) >= 30


def test_quotes_are_verbatim_and_facts_quoted() -> None:
    errors = []
    for where, q in GOLD:
        quotes = []
        for e in _entries(q):
            text = _text(e["document"])
            for ev in e["evidence"]:
                quotes.append(norm(ev))
                if norm(ev) not in text:
                    errors.append(f"{where} quote not in {e['document']}: {ev[:80]}")
        for ev in q["evidence"]:
            if norm(ev) not in quotes:
                errors.append(f"{where} question evidence not in any target: {ev[:80]}")
        for fact in q["answer_contains"]:
            if not any(norm(fact) in qq for qq in quotes):
                errors.append(f"{where} fact not in any quote: {fact}")
    assert not errors, "\n".join(errors)


def _exists(document: str, section: str | None, article: str) -> bool:
    wanted = norm_article(article)
    return any(s == section and (norm_article(n) == wanted
                                 or norm_article(n).startswith(wanted + "."))
               for s, n in _outline(document))


def test_article_labels_exist_in_parser_outline() -> None:
    missing = []
    for where, q in GOLD:
        for e in _entries(q):
            for article in e["articles"]:
                if not _exists(e["document"], e["section"], article):
                    missing.append(f"{where} {(q['id'], e['document'], e['section'], article)}")
    assert not missing, "gold labels not in the parser outline:\n" + "\n".join(missing)

