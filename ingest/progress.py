"""Typed progress of an ingest: which file, at which stage, how many passages embedded.

The pipeline calls a `ProgressCallback` with an `IngestProgress` at each step of each file
(reading, chunking, each embedding batch, each write batch, then done or failed). The CLI
prints it, the web UI shows it in a progress bar, the REST API keeps it in the upload's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["reading", "chunking", "embedding", "writing", "done", "failed"]
StageName = Literal["lecture", "découpage", "vectorisation", "écriture", "terminé", "échec"]

# What each stage is called for users (the REST API reports these words as `stage`).
STAGE_NAMES: dict[Stage, StageName] = {
    "reading": "lecture",
    "chunking": "découpage",
    "embedding": "vectorisation",
    "writing": "écriture",
    "done": "terminé",
    "failed": "échec",
}
# Share of one file's work done when a stage starts (embedding fills most of the rest).
_STAGE_START: dict[Stage, float] = {
    "reading": 0.0, "chunking": 0.05, "embedding": 0.1, "writing": 0.9, "done": 1.0,
    "failed": 1.0,
}


@dataclass(frozen=True)
class IngestProgress:
    """One step of one file of an ingest call.

    `done` and `total` count passages: embedded so far (embedding), written so far (writing),
    or all of them once the file is done; both are 0 before the file is chunked.
    """

    file: str  # the file's name
    index: int  # its position among the files of this ingest call, from 0
    files: int  # how many files this ingest call has
    stage: Stage
    done: int = 0
    total: int = 0
    floor: float = 0.0  # the share of the call already reported: `fraction` never goes below

    @property
    def file_fraction(self) -> float:
        """How much of this file is done, from 0 to 1."""
        start = _STAGE_START[self.stage]
        if self.stage in ("embedding", "writing") and self.total:
            end = 0.9 if self.stage == "embedding" else 1.0
            return start + (end - start) * min(self.done, self.total) / self.total
        return start

    @property
    def fraction(self) -> float:
        """How much of the whole ingest call is done, from 0 to 1."""
        return max(self.floor, min(1.0, (self.index + self.file_fraction) / max(self.files, 1)))

    @property
    def label(self) -> str:
        """The step in French, e.g. "gros.txt : vectorisation 128 / 2084 passages"."""
        name: str = STAGE_NAMES[self.stage]
        if self.stage in ("embedding", "writing") and self.total:
            name = f"{name} {self.done} / {self.total} passages"
        where = f" (fichier {self.index + 1} sur {self.files})" if self.files > 1 else ""
        return f"{self.file} : {name}{where}"


ProgressCallback = Callable[[IngestProgress], None]


def milestones(callback: ProgressCallback, steps: int = 10) -> ProgressCallback:
    """Pass on each new stage, and embedding or writing only every 1/`steps` of the file
    (for printed logs: a large file would otherwise print one line per batch)."""
    last: list[tuple[str, int, Stage, int]] = []

    def filtered(event: IngestProgress) -> None:
        step = int(steps * event.done / event.total) if event.total else 0
        key = (event.file, event.index, event.stage, step)
        if last and last[-1] == key:
            return
        last[:] = [key]
        callback(event)

    return filtered


# An estimate of the time left is shown once this share of the ingest and this many seconds
# have passed: before, one slow or one skipped file would make it swing.
_ETA_MIN_FRACTION = 0.05
_ETA_MIN_SECONDS = 10.0


class Eta:
    """The time an ingest has left, from the share done so far and the time it took (files of
    a folder count alike: a contract base's files are of similar sizes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()

    def left(self, fraction: float) -> float | None:
        """Seconds left, None while too little is done to tell."""
        elapsed = self.clock() - self.started
        if fraction < _ETA_MIN_FRACTION or elapsed < _ETA_MIN_SECONDS or fraction >= 1:
            return None
        return elapsed * (1 - fraction) / fraction

    def label(self, fraction: float) -> str:
        """The time left in French ("reste environ 12 min"), or "" while unknown."""
        left = self.left(fraction)
        if left is None:
            return ""
        if left < 60:
            return "reste moins d'une minute"
        minutes = round(left / 60)
        if minutes < 60:
            return f"reste environ {minutes} min"
        return f"reste environ {minutes // 60} h {minutes % 60:02d}"
