"""Background jobs of the REST API: uploads indexed one at a time on one worker thread.

`POST /api/documents` hands its files to a `JobRunner` and answers at once with the job; the
worker indexes them, and the pipeline's progress (stage, passages embedded / total of each
file) goes into the job, while questions, listings and health checks keep answering.

Jobs live in this process's memory only: a restart forgets every job, finished or not (an
upload still waiting or being indexed is lost and must be sent again). The last `keep`
finished jobs are remembered; at most `pending_max` wait or run at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from ingest.progress import STAGE_NAMES, Eta, IngestProgress, ProgressCallback, StageName

log = logging.getLogger("contractqa.jobs")

T = TypeVar("T")
JobStatus = Literal["en_attente", "en_cours", "terminé", "échec"]
FileStage = Literal["en_attente"] | StageName
INTERNAL_ERROR = ("Erreur interne pendant l'indexation : consultez les journaux du serveur, puis "
                  "envoyez à nouveau les fichiers.")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class FileProgress:
    """Where one file of a job stands: a stage of `ingest.progress.STAGE_NAMES` (in French),
    or "en_attente" before the worker reaches it, and its passages done / total."""

    filename: str
    stage: FileStage = "en_attente"
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a job's work returns: whether every file went through, a French summary, the
    result to show."""

    ok: bool
    message: str
    result: T


@dataclass
class Job(Generic[T]):
    """One upload being indexed; `JobRunner` hands out copies, never the live object."""

    job_id: str
    files: list[FileProgress]
    created_at: str = field(default_factory=_now)
    status: JobStatus = "en_attente"
    message: str = "En attente : les indexations passent une à une."
    progress: float = 0.0  # of the whole job, from 0 to 1
    seconds_left: int | None = None  # estimated while it runs, once it can be (`Eta`)
    started_at: str | None = None
    finished_at: str | None = None
    result: T | None = None
    # Resolved with the finished job (a copy): what `?wait=true` awaits.
    future: Future[Job[T]] = field(default_factory=Future, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("terminé", "échec")


# A job's work: given its id and where to report progress, index and say how it went.
Work = Callable[[str, ProgressCallback], Outcome[T]]


class QueueFull(Exception):
    """Too many jobs already wait or run: the upload is refused (French message)."""


class WriterBusy(Exception):
    """A job kept the index longer than another writer (a deletion) could wait."""

    def __init__(self, job: Job[Any] | None) -> None:
        super().__init__("index in use by a job")
        self.job = job


def _copy(job: Job[T]) -> Job[T]:
    return replace(job, files=[replace(f) for f in job.files])


class JobRunner(Generic[T]):
    """Run jobs one at a time, in order, on one daemon thread (a process that stops does not
    wait for a long indexing: Chroma never shows half a document, see ingest.store)."""

    def __init__(self, keep: int = 100, pending_max: int = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keep = max(0, keep)
        self.clock = clock  # what the estimates of the time left count in
        self.pending_max = max(1, pending_max)
        self._jobs: dict[str, Job[T]] = {}  # oldest first
        self._lock = threading.Lock()  # guards the jobs and their fields
        self._writing = threading.Lock()  # held by the running job, or by `exclusive`
        self._queue: queue.Queue[tuple[Job[T], Work[T]]] = queue.Queue()
        self._worker: threading.Thread | None = None

    # Submitting and reading ------------------------------------------------------------------
    def submit(self, filenames: list[str], work: Work[T]) -> Job[T]:
        """Queue `work` for these files; QueueFull when `pending_max` jobs wait or run."""
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if not j.finished)
            if pending >= self.pending_max:
                raise QueueFull(
                    f"Trop d'indexations en attente ({pending}) : réessayez quand l'une d'elles "
                    "sera terminée (suivi : GET /api/jobs).")
            job: Job[T] = Job(uuid.uuid4().hex[:16], [FileProgress(n) for n in filenames])
            self._jobs[job.job_id] = job
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="contractqa-jobs",
                                                daemon=True)
                self._worker.start()
            snapshot = _copy(job)
        self._queue.put((job, work))
        return snapshot

    def get(self, job_id: str) -> Job[T] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return _copy(job) if job is not None else None

    def jobs(self) -> list[Job[T]]:
        """Every remembered job, newest first."""
        with self._lock:
            return [_copy(j) for j in reversed(self._jobs.values())]

    def running(self) -> Job[T] | None:
        with self._lock:
            job = next((j for j in self._jobs.values() if j.status == "en_cours"), None)
            return _copy(job) if job is not None else None

    @contextmanager
    def exclusive(self, timeout: float) -> Iterator[None]:
        """Write alone: no job runs meanwhile. Waits for the running job at most `timeout` s,
        then raises WriterBusy with that job."""
        if not self._writing.acquire(timeout=max(0.0, timeout)):
            raise WriterBusy(self.running())
        try:
            yield
        finally:
            self._writing.release()

    # The worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job, work = self._queue.get()
            with self._writing:
                self._run(job, work)

    def _run(self, job: Job[T], work: Work[T]) -> None:
        with self._lock:
            job.status, job.started_at = "en_cours", _now()
            job.message = "Indexation en cours."
        eta = Eta(self.clock)
        try:
            outcome = work(job.job_id, lambda event: self._progress(job, event, eta))
        except Exception:
            log.exception("job %s failed", job.job_id)
            self._finish(job, False, INTERNAL_ERROR, None)
        else:
            self._finish(job, outcome.ok, outcome.message, outcome.result)

    def _progress(self, job: Job[T], event: IngestProgress, eta: Eta) -> None:
        left, told = eta.left(event.fraction), eta.label(event.fraction)
        with self._lock:
            if event.index < len(job.files):
                file = job.files[event.index]
                file.stage = STAGE_NAMES[event.stage]
                file.done, file.total = event.done, event.total
            job.progress = round(event.fraction, 4)
            job.seconds_left = round(left) if left is not None else None
            job.message = f"Indexation en cours : {event.label}{f' ; {told}' if told else ''}."

    def _finish(self, job: Job[T], ok: bool, message: str, result: T | None) -> None:
        with self._lock:
            job.status = "terminé" if ok else "échec"
            job.message, job.result, job.finished_at = message, result, _now()
            job.seconds_left = None
            if ok:
                job.progress = 1.0
            for file in job.files:
                if file.stage not in (STAGE_NAMES["done"], STAGE_NAMES["failed"]):
                    file.stage = STAGE_NAMES["done" if ok else "failed"]
            finished = [k for k, j in self._jobs.items() if j.finished]
            for key in finished[: max(0, len(finished) - self.keep)]:
                del self._jobs[key]
            snapshot = _copy(job)
        job.future.set_result(snapshot)


def busy_message(job: Job[Any] | None, action: str) -> str:
    """Why `action` (e.g. "la suppression de « x »") was not done: a job holds the index."""
    if job is None:
        return (f"L'index est en cours de modification : {action} n'a pas été faite. "
                "Réessayez dans un instant.")
    return (f"Une indexation en arrière-plan occupe l'index (tâche {job.job_id} ; "
            f"{job.message.rstrip('.')}) : {action} n'a pas été faite. Réessayez quand la tâche "
            f"sera terminée (suivi : GET /api/jobs/{job.job_id}).")
