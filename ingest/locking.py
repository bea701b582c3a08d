"""Who may write the index: one writer per data dir across processes, and an in-process lock
that lets queries run together while the Chroma client is reopened alone.

The writer lock is a file (`index.lock` in the data dir) held with `filelock`, so the CLI, a
server and a second server on the same data dir never interleave their writes. Readers never
take it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

LOCK_NAME = "index.lock"
Notify = Callable[[str], None]


class IndexBusy(Exception):
    """Another process kept the index locked for longer than the allowed wait."""


def _log_warning(message: str) -> None:
    log.warning("%s", message)


@contextmanager
def writer_lock(data_dir: Path, timeout: float, notify: Notify | None = None) -> Iterator[None]:
    """Hold the data dir's writer lock; wait at most `timeout` s (saying so), then refuse."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        (notify or _log_warning)(
            f"Une autre indexation ou suppression modifie l'index ({data_dir}) : attente de "
            f"sa fin (au plus {timeout:g} s)…"
        )
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise IndexBusy(
                f"L'index {data_dir} est toujours en cours de modification (une autre "
                f"indexation ou suppression, de ce serveur ou d'un autre processus) après "
                f"{timeout:g} s d'attente. Réessayez quand elle sera terminée (ou augmentez "
                "CONTRACTQA_WRITE_LOCK_TIMEOUT_S)."
            ) from None
    try:
        yield
    finally:
        lock.release()


class ReadWriteLock:
    """Many readers at once, or one writer alone (writers are not starved by new readers)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
