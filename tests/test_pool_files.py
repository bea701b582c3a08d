"""The pool's contract files (not in this repository: eval/gold/pool/SOURCES.md) are the ones
its sources name, byte for byte, when the pool is there; without them the eval leaves the
pool out of every figure and gate rather than measure a partial pool."""

from __future__ import annotations

import hashlib
import re

from eval.metrics import CORPORA, POOL_DIR, POOL_GOLD_DIR

_ROW = re.compile(r"^\| (\S+\.(?:pdf|docx|md|txt)) \|.*\| ([0-9a-f]{64}) \|", re.MULTILINE)


def _sources() -> dict[str, str]:
    text = (POOL_GOLD_DIR / "SOURCES.md").read_text(encoding="utf-8")
    return {name: sha for name, sha in _ROW.findall(text)}


def test_every_pool_question_file_has_a_source_row() -> None:
    sources = _sources()
    assert len(sources) >= 26
    stems = {name.rsplit(".", 1)[0] for name in sources}
    gold = {p.stem for p in POOL_GOLD_DIR.glob("*.jsonl")}
    assert gold <= stems, sorted(gold - stems)


def test_the_pool_files_are_the_sourced_ones_byte_for_byte() -> None:
    if not POOL_DIR.is_dir():
        assert "pool" not in CORPORA
        return
    for name, sha in _sources().items():
        path = POOL_DIR / name
        assert path.is_file(), f"{name} manque dans {POOL_DIR} (eval/gold/pool/SOURCES.md)"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, name
