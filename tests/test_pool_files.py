"""The pool's contract files (not in this repository: eval/gold/pool/SOURCES.md) are the ones
its sources name, byte for byte, when the pool is there; without them the eval leaves the
pool out of every figure and gate rather than measure a partial pool."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from eval.metrics import CORPORA, POOL_DIR, POOL_GOLD_DIR
from eval.pool_files import restore, sources

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


def test_sources_name_a_repository_and_commit_for_each_file() -> None:
    rows = sources()
    assert {r.name: r.sha256 for r in rows} == _sources()
    assert all("/" in r.repo and len(r.commit) == 40 and r.path for r in rows)


def test_pool_files_come_back_from_a_local_clone_checked(tmp_path: Path) -> None:
    repo = tmp_path / "mirrors" / "acme" / "contrats"
    repo.mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "docs").mkdir()
    (repo / "docs" / "bail.md").write_bytes(b"Article 1 - Objet\nLe bail.\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    good = hashlib.sha256(b"Article 1 - Objet\nLe bail.\n").hexdigest()
    table = tmp_path / "SOURCES.md"
    row = "| {} | bail | Bail | acme/contrats | docs/bail.md | {} | MIT | {} | 26 | 4 | — |\n"
    table.write_text(row.format("bail.md", commit, good)
                     + row.format("faux.md", commit, "0" * 64)
                     + row.format("absent.md", commit, good).replace("acme/", "autre/"),
                     encoding="utf-8")
    dest = tmp_path / "pool"
    missing = restore(tmp_path / "mirrors", dest, table)
    assert (dest / "bail.md").read_bytes() == b"Article 1 - Objet\nLe bail.\n"
    assert not (dest / "faux.md").exists() and not (dest / "absent.md").exists()
    assert len(missing) == 2 and any("sha256" in m for m in missing)
    assert any("autre/contrats" in m for m in missing)
    assert sorted(p.name for p in dest.iterdir()) == ["bail.md"]  # nothing half-written
