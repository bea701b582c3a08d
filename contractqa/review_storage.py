"""Where reviews live on disk: checklists, the cell cache and finished reviews.

- Checklists shipped with the app: `contractqa/checklists/*.json`; a user's own under
  `<data dir>/checklists/<id>.json`.
- Cells: one SQLite file, `<data dir>/reviews/cells.sqlite` (WAL), keyed by contract version,
  settings, question and answer mode; safe for several threads and processes (one connection
  per call, SQLite's own locking).
- Finished reviews: `<data dir>/reviews/<id>.json`, written atomically (temporary file, then
  rename), read back by `GET /api/reviews/{id}` and the exports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from contractqa.review import (
    MAX_QUESTIONS,
    Cell,
    Checklist,
    Review,
    ReviewQuestion,
    custom_questions,
    normalise_question,
)
from ingest.aliases import fold

BUILTIN_DIR = Path(__file__).parent / "checklists"
_REVIEW_ID = re.compile(r"^[0-9a-f]{12}$")


class ChecklistError(ValueError):
    """A checklist that cannot be saved or found; the message says what to do."""


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def slug(text: str) -> str:
    """"Ma liste d'audit" -> "ma-liste-d-audit" (an id a file name can hold)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:60]


class ChecklistStore:
    """The shipped checklists and the user's own, saved in the data dir."""

    def __init__(self, folder: Path, builtin: Path = BUILTIN_DIR) -> None:
        self.folder = folder
        self.builtin_dir = builtin

    def builtin(self) -> list[Checklist]:
        return [Checklist.from_json(json.loads(p.read_text(encoding="utf-8")), builtin=True)
                for p in sorted(self.builtin_dir.glob("*.json"))]

    def saved(self) -> list[Checklist]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(Checklist.from_json(json.loads(path.read_text(encoding="utf-8")),
                                                 builtin=False))
            except (ValueError, KeyError, TypeError):
                continue  # a hand-edited file gone wrong does not hide the others
        return found

    def all(self) -> list[Checklist]:
        return self.builtin() + self.saved()

    def get(self, checklist_id: str) -> Checklist:
        found = next((c for c in self.all() if c.id == checklist_id), None)
        if found is None:
            names = ", ".join(c.id for c in self.all())
            raise ChecklistError(f"Liste de questions inconnue : « {checklist_id} ». "
                                 f"Listes disponibles : {names}.")
        return found

    def save(self, title: str, questions: Sequence[str | ReviewQuestion]) -> Checklist:
        """Save (or replace) a user's checklist under an id made from its title."""
        title = " ".join(title.split())
        checklist_id = slug(title)
        if not checklist_id:
            raise ChecklistError("Donnez un nom à la liste (lettres ou chiffres).")
        if checklist_id in {c.id for c in self.builtin()}:
            raise ChecklistError(f"« {title} » est le nom d'une liste fournie : choisissez-en "
                                 "un autre.")
        typed = [q for q in questions if isinstance(q, ReviewQuestion)]
        texts = [q for q in questions if isinstance(q, str)]
        kept = _renumbered(typed + custom_questions(texts, [q.question for q in typed]))
        if not kept:
            raise ChecklistError("La liste est vide : saisissez au moins une question.")
        if len(kept) > MAX_QUESTIONS:
            raise ChecklistError(f"{len(kept)} questions : {MAX_QUESTIONS} au plus par liste.")
        checklist = Checklist(checklist_id, title, tuple(kept), builtin=False)
        write_atomic(self.folder / f"{checklist_id}.json",
                     json.dumps(checklist.to_json(), ensure_ascii=False, indent=2))
        return checklist


def _renumbered(questions: list[ReviewQuestion]) -> list[ReviewQuestion]:
    """Unique ids, keeping each given id when it is free."""
    seen: set[str] = set()
    out = []
    for i, q in enumerate(questions, 1):
        qid = q.id if q.id not in seen else f"q{i}"
        seen.add(qid)
        out.append(ReviewQuestion(qid, q.label, q.question, q.clues))
    return out


class CellCache:
    """Cells already computed, keyed by what they depend on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, "
                       "cell TEXT NOT NULL, stored_at TEXT DEFAULT CURRENT_TIMESTAMP)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, fast commits
            yield db

    @staticmethod
    def key(document_id: str, content_hash: str, pipeline_version: str, settings: str,
            question: ReviewQuestion, mode: str) -> str:
        """One contract version (id, text, parser), the settings, the question, the mode."""
        parts = [document_id, content_hash, pipeline_version, settings,
                 normalise_question(question.question), "|".join(question.clues), mode]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> Cell | None:
        with self._connect() as db:
            row = db.execute("SELECT cell FROM cells WHERE key = ?", (key,)).fetchone()
        return Cell.from_json(json.loads(row[0])) if row else None

    def put(self, key: str, cell: Cell) -> None:
        self.put_many([(key, cell)])

    def put_many(self, items: Sequence[tuple[str, Cell]]) -> None:
        """Store cells in one transaction (a contract's row at a time)."""
        rows = []
        for key, cell in items:
            data = cell.to_json()
            data["cached"] = False
            rows.append((key, json.dumps(data, ensure_ascii=False)))
        if not rows:
            return
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO cells (key, cell) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM cells").fetchone()[0])


class ReviewStore:
    """Finished reviews as JSON files, one per review id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, review: Review) -> None:
        write_atomic(self.folder / f"{review.id}.json",
                     json.dumps(review.to_json(), ensure_ascii=False))

    def load(self, review_id: str) -> Review | None:
        if not _REVIEW_ID.match(review_id):
            return None
        path = self.folder / f"{review_id}.json"
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Review.from_json(data)
