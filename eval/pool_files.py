"""Put the pool's contract files back from local git copies of their repositories.

The files are not in this repository (eval/gold/pool/SOURCES.md says why and where each comes
from). With each source repository already cloned or mirrored under one folder, as
`<owner>+<name>/repo` (what a session's `fetch` tool leaves) or `<owner>/<name>`:

    python -m eval.pool_files /work/.mirror data/pool-contracts

Each file is read at the commit its row names (`git show <commit>:<path>`, nothing is
downloaded) and written only when its sha256 is the row's; the others are listed, and the exit
status is non-zero.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from eval.metrics import POOL_GOLD_DIR

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Source:
    name: str  # the file's name in the pool
    repo: str  # owner/name on GitHub
    path: str  # the file's path in that repository
    commit: str
    sha256: str


def sources(table: Path = POOL_GOLD_DIR / "SOURCES.md") -> list[Source]:
    """The rows of the sources table: file | kind | title | repository | path | commit | …
    with the file's sha256 in a later cell."""
    out: list[Source] = []
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or not re.fullmatch(r"\S+\.(pdf|docx|md|txt)", cells[0]):
            continue
        commit = _COMMIT.match(cells[5])
        sha = next((c for c in cells[6:] if _SHA256.fullmatch(c)), None)
        if commit and sha:
            out.append(Source(cells[0], cells[3], cells[4], commit.group(0), sha))
    return out


def git_dir(mirrors: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for candidate in (mirrors / f"{owner}+{name}" / "repo", mirrors / owner / name):
        if (candidate / ".git").is_dir():
            return candidate / ".git"
        if candidate.is_dir():
            return candidate
    return None


def restore(mirrors: Path, dest: Path, table: Path = POOL_GOLD_DIR / "SOURCES.md"
            ) -> list[str]:
    """Write each sourced file into `dest`; return what could not be (French, one a file)."""
    dest.mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    for s in sources(table):
        where = git_dir(mirrors, s.repo)
        if where is None:
            missing.append(f"{s.name} : dépôt {s.repo} absent de {mirrors}")
            continue
        shown = subprocess.run(["git", "--git-dir", str(where), "show", f"{s.commit}:{s.path}"],
                               capture_output=True, check=False)
        if shown.returncode != 0:
            missing.append(f"{s.name} : {s.commit[:8]}:{s.path} introuvable dans {where}")
        elif hashlib.sha256(shown.stdout).hexdigest() != s.sha256:
            missing.append(f"{s.name} : sha256 différent de celui de SOURCES.md")
        else:
            part = dest / f".{s.name}.part"
            part.write_bytes(shown.stdout)
            part.replace(dest / s.name)  # never a half-written contract
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.pool_files")
    parser.add_argument("mirrors", type=Path)
    parser.add_argument("dest", type=Path, nargs="?", default=Path("data/pool-contracts"))
    args = parser.parse_args()
    missing = restore(args.mirrors, args.dest)
    for line in missing:
        print(line, file=sys.stderr)
    print(f"{len(sources()) - len(missing)} fichiers du pool dans {args.dest}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
