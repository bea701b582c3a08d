"""The audit log: who did what and when, as JSON lines."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contractqa.security.tokens import Principal

log = logging.getLogger("contractqa.api")


class AuditLog:
    """JSON lines of who did what and when (questions, never the answers' text)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, principal: Principal | None, **fields: Any) -> None:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "token": principal.name if principal else None,
            **fields,
        }
        line = json.dumps(record, ensure_ascii=False, default=str)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        except OSError:
            log.exception("Écriture du journal d'audit impossible (%s)", self.path)
