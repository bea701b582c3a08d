"""The audit log: who did what and when, as JSON lines."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from contractqa.security.tokens import Principal

log = logging.getLogger("contractqa.api")


class AuditLog:
    """JSON lines of who did what and when (questions, never the answers' text)."""

    def __init__(self, path: Path, max_bytes: int = 20 * 1024 * 1024, keep: int = 10) -> None:
        self.path = path
        self.max_bytes = max_bytes  # past this size the log is rotated: audit.log.1, .2, …
        self.keep = keep  # rotated copies kept
        self._lock = threading.Lock()
        # Several servers may write one data dir's log: appends and rotation under a file lock.
        self._file_lock = FileLock(str(path) + ".lock")

    def write(self, event: str, principal: Principal | None, **fields: Any) -> None:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "token": principal.name if principal else None,
            # The matters the caller sees ("*": every matter).
            "matters": (sorted(principal.matters) if principal.matters is not None else "*")
            if principal else None,
            **fields,
        }
        line = json.dumps(record, ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self._file_lock:
                self._rotate()
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        except OSError:
            log.exception("Écriture du journal d'audit impossible (%s)", self.path)

    def _rotate(self) -> None:
        """Append-only: a full log is renamed, never rewritten; the oldest copy goes."""
        if not self.path.exists() or self.path.stat().st_size < self.max_bytes:
            return
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))


def answer_fields(answer: dict[str, Any] | None) -> dict[str, Any]:
    """What the log keeps of an answer (JSON, as the API returns it): its id, whether it
    abstained, the contracts and articles cited; never its text."""
    answer = answer or {}
    return {"answer_id": answer.get("id"), "abstained": answer.get("abstained"),
            "cited": [f"{c['document_id']}#{c['article']}" for c in answer.get("citations", [])]}


def read_audit(path: Path, user: str | None = None, matter: str | None = None,
               since: datetime | None = None) -> list[dict[str, Any]]:
    """The lines of an audit log (and of its rotated copies, oldest first) that match: the
    caller's name, a matter it sees (a caller seeing every matter matches any), a time."""
    rotated = [f for f in path.parent.glob(path.name + ".*") if f.suffix[1:].isdigit()]
    files = [*sorted(rotated, key=_rotation, reverse=True), path]
    out: list[dict[str, Any]] = []
    for file in (f for f in files if f.is_file()):
        for line in file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the others stand
            if user and record.get("token") != user:
                continue
            seen = record.get("matters")
            if matter and seen != "*" and matter not in (seen or []):
                continue
            if since and datetime.fromisoformat(record["ts"]) < since:
                continue
            out.append(record)
    return out


def _rotation(path: Path) -> int:
    return int(path.suffix[1:])
