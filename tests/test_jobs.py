"""Uploads indexed in the background: the job runner, the pipeline's progress, and uploads on
real components (Chroma, the `use` embedder, the API) while questions and a deletion run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.large_text import unstructured_text
from contractqa.api import create_api
from contractqa.jobs import (
    INTERNAL_ERROR,
    JobRunner,
    Outcome,
    QueueFull,
    WriterBusy,
    busy_message,
)
from contractqa.schemas import UploadOut
from contractqa.service import ContractQA
from ingest.embeddings import EmbeddingModel, Matrix
from ingest.locking import writer_lock
from ingest.pipeline import EMBED_BATCH
from ingest.progress import IngestProgress, ProgressCallback, milestones
from tests.servers import serving
from tests.test_api import ADMIN, ASK, assert_error, make_settings, wait_for_job
from tests.test_ingest import CONTRACTS, SMALL, assert_consistent, fast_service
from tests.test_inputs import junk_without_nul

CRAFT = CONTRACTS / "000_863f8398c9eb4693.txt"
KIMPLE = CONTRACTS / "004_f17bc88fae2ffff9.txt"
# A sentence planted in the large text: the question below must find it once it is indexed.
PLANTED = "Le coffre numérique du client est protégé par le mot de passe zéphyrin cobalt."
PLANTED_QUESTION = "Quel est le mot de passe du coffre numérique du client ?"


def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for `condition` (a bound, not a timing assertion); fail with `what` past it."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.05)


def text_with_planted_sentence(megabytes: float) -> str:
    """The benchmark's text without article structure, with `PLANTED` in a middle paragraph."""
    paragraphs = unstructured_text(megabytes).split("\n\n")
    paragraphs.insert(len(paragraphs) // 2, PLANTED)
    return "\n\n".join(paragraphs)


# The runner -------------------------------------------------------------------------------------
def test_runner_runs_jobs_in_order_with_progress_and_a_bounded_memory() -> None:
    runner: JobRunner[str] = JobRunner(keep=2, pending_max=2)
    gate = threading.Event()

    def blocked(job_id: str, progress: ProgressCallback) -> Outcome[str]:
        progress(IngestProgress("a.txt", 0, 1, "embedding", 64, 128))
        assert gate.wait(60)
        return Outcome(True, "fini", "a")

    def quick(job_id: str, progress: ProgressCallback) -> Outcome[str]:
        return Outcome(True, "fini", "b")

    def broken(job_id: str, progress: ProgressCallback) -> Outcome[str]:
        raise RuntimeError("secret internal detail")

    first = runner.submit(["a.txt"], blocked)
    second = runner.submit(["b.txt"], quick)
    with pytest.raises(QueueFull, match="Trop d'indexations en attente"):
        runner.submit(["c.txt"], quick)
    until(lambda: runner.get(first.job_id).files[0].done == 64, "progress of the first job")  # type: ignore[union-attr]
    running = runner.get(first.job_id)
    assert running is not None and running.status == "en_cours" and running.progress == 0.5
    assert (running.files[0].stage, running.files[0].total) == ("vectorisation", 128)
    assert running.message == "Indexation en cours : a.txt : vectorisation 64 / 128 passages."
    assert runner.get(second.job_id).status == "en_attente"  # type: ignore[union-attr]
    with pytest.raises(WriterBusy) as busy, runner.exclusive(0.2):
        pass
    assert busy.value.job is not None and busy.value.job.job_id == first.job_id
    message = busy_message(busy.value.job, "la suppression de « x »")
    assert first.job_id in message and "vectorisation 64 / 128" in message
    assert "Réessayez" in message

    gate.set()
    assert second.future.result(timeout=60).status == "terminé"
    failed = runner.submit(["d.txt"], broken).future.result(timeout=60)
    assert failed.status == "échec" and failed.message == INTERNAL_ERROR
    assert failed.files[0].stage == "échec" and failed.result is None
    assert runner.get(first.job_id) is None  # keep=2: the oldest finished job is forgotten
    assert [j.job_id for j in runner.jobs()] == [failed.job_id, second.job_id]
    with runner.exclusive(5):  # free again
        pass


def test_a_running_job_tells_its_time_left_once_it_can() -> None:
    """A job's status says the time left (seconds, and in words in its message) once 5 % of it
    and 10 s are done, from the share done and the time taken; nothing once finished."""
    now = [1000.0]
    runner: JobRunner[str] = JobRunner(clock=lambda: now[0])
    seen: list[tuple[int | None, str]] = []

    def work(job_id: str, progress: ProgressCallback) -> Outcome[str]:
        for index, seconds in enumerate((5, 55, 60)):  # files 1, 2 and 3 of 20 done
            now[0] += seconds
            progress(IngestProgress(f"f{index}.txt", index, 20, "done"))
            job = runner.get(job_id)
            assert job is not None
            seen.append((job.seconds_left, job.message))
        return Outcome(True, "fini", "ok")

    job = runner.submit([f"f{i}.txt" for i in range(20)], work).future.result(timeout=60)
    assert seen[0] == (None, "Indexation en cours : f0.txt : terminé (fichier 1 sur 20).")
    assert seen[1][0] == 540  # 60 s for 2 of 20 files: the 18 others take 540 s
    assert seen[2] == (680, "Indexation en cours : f2.txt : terminé (fichier 3 sur 20) ; "
                            "reste environ 11 min.")  # 120 s for 3 files: 680 s for 17
    assert job.seconds_left is None and job.message == "fini"


# The pipeline's progress ------------------------------------------------------------------------
def test_pipeline_reports_each_stage_and_embedding_batch(tmp_path: Path) -> None:
    service = fast_service(make_settings(tmp_path / "data"))
    large = tmp_path / "long.txt"
    large.write_text(unstructured_text(0.15), encoding="utf-8")
    bad = tmp_path / "abime.txt"
    bad.write_bytes(junk_without_nul())
    events: list[IngestProgress] = []
    report = service.ingest([large, bad], progress=events.append)

    chunks = report.results[0].chunks
    assert chunks > 2 * EMBED_BATCH, chunks
    stages = [e.stage for e in events if e.file == "long.txt"]
    assert stages[:3] == ["reading", "chunking", "embedding"] and stages[-1] == "done"
    assert stages.index("writing") > max(i for i, s in enumerate(stages) if s == "embedding")
    embedded = [e.done for e in events if e.stage == "embedding"]
    assert embedded == [*range(0, chunks, EMBED_BATCH), chunks]
    assert {e.total for e in events if e.stage in ("embedding", "writing")} == {chunks}
    assert [e.stage for e in events if e.file == "abime.txt"] == ["reading", "failed"]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert f"long.txt : vectorisation {EMBED_BATCH} / {chunks} passages (fichier 1 sur 2)" in [
        e.label for e in events]



def test_printed_progress_keeps_each_stage_and_every_tenth() -> None:
    batches = [IngestProgress("gros.txt", 0, 1, "embedding", done, 2000)
               for done in range(0, 2001, 64)]
    events = [IngestProgress("gros.txt", 0, 1, "reading"), *batches,
              IngestProgress("gros.txt", 0, 1, "done", 2000, 2000)]
    printed: list[IngestProgress] = []
    show = milestones(printed.append)
    for event in events:
        show(event)
    assert [e.stage for e in printed] == ["reading", *["embedding"] * 10, "done"]
    assert [e.done for e in printed if e.stage == "embedding"] == [
        0, 256, 448, 640, 832, 1024, 1216, 1408, 1600, 1856]


# Uploads on real components ---------------------------------------------------------------------
class FailingEmbedder(EmbeddingModel):
    """The real embedder for one batch, then a failure (a full disk, a killed model…)."""

    def __init__(self, inner: EmbeddingModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> Matrix:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("secret internal detail")
        return self.inner.embed_batch(texts, query=query)


def test_failed_background_jobs_leave_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    uploads = data / "uploads"
    settings = make_settings(data, max_upload_mb=1, write_lock_timeout_s=0.5)
    service = ContractQA(settings)
    app = create_api(service, settings)
    with TestClient(app) as client:
        good = client.post("/api/documents?wait=true", headers=ADMIN,
                           files=[("files", ("contrat.txt", SMALL.encode(), "text/plain"))])
        assert good.status_code == 200 and good.json()["ok"], good.text

        # A file that is not text, under the name of the indexed one: refused, the good one kept.
        r = client.post("/api/documents", headers=ADMIN,
                        files=[("files", ("contrat.txt", junk_without_nul(), "text/plain"))])
        assert r.status_code == 202, r.text
        job = wait_for_job(client, r.json()["url"])
        assert job["status"] == "échec" and job["ok"] is False, job
        assert job["message"].startswith(
            "Échec : 1 fichier(s) sur 1 non indexé(s). « contrat.txt » : ce fichier ne contient")
        assert "Fournissez un PDF, DOCX ou .txt" in job["message"], job
        assert str(uploads) not in job["message"] and "Traceback" not in job["message"]
        assert job["files"][0]["stage"] == "échec"
        assert job["results"][0]["status"] == "error"

        # The embedder fails halfway through a longer file: an internal error, nothing indexed.
        monkeypatch.setattr(service.ingestor, "embedder", FailingEmbedder(service.embedder))
        r = client.post("/api/documents", headers=ADMIN, files=[
            ("files", ("long.txt", unstructured_text(0.15).encode(), "text/plain"))])
        job = wait_for_job(client, r.json()["url"])
        assert job["status"] == "échec" and job["message"] == INTERNAL_ERROR, job
        assert job["files"][0]["stage"] == "échec" and job["ok"] is False
        monkeypatch.undo()

        # Another process (the CLI) keeps the index past the wait: its message, nothing kept.
        with writer_lock(data, timeout=1):
            r = client.post("/api/documents", headers=ADMIN,
                            files=[("files", ("autre.txt", SMALL.encode(), "text/plain"))])
            job = wait_for_job(client, r.json()["url"])
        assert job["status"] == "échec", job
        assert "« autre.txt » : L'index" in job["message"] and "Réessayez" in job["message"], job

        assert [d["document_id"] for d in client.get("/api/documents", headers=ASK).json()] == [
            "contrat"]
        assert_consistent(service.store)
        assert sorted(p.name for p in uploads.iterdir()) == ["contrat.txt"]
        assert (uploads / "contrat.txt").read_text(encoding="utf-8") == SMALL

        # While a job holds the index, a deletion waits for it, then says which job and what to
        # do; questions, listings and health keep answering.
        gate = threading.Event()

        def held(job_id: str, progress: ProgressCallback) -> Outcome[UploadOut]:
            progress(IngestProgress("lent.txt", 0, 1, "embedding", 64, 640))
            assert gate.wait(120)
            return Outcome(True, "fini", UploadOut(ok=True, results=[]))

        holder = app.state.jobs.submit(["lent.txt"], held)
        until(lambda: app.state.jobs.get(holder.job_id).files[0].done == 64, "the held job")
        busy = client.delete("/api/documents/contrat", headers=ADMIN)
        error = assert_error(busy, 503, "index_busy")
        assert busy.headers["retry-after"] == "30"
        assert holder.job_id in error["message"] and "la suppression de « contrat »" in error[
            "message"] and "lent.txt : vectorisation 64 / 640 passages" in error["message"], error
        r = client.post("/api/ask", headers=ASK, json={"question": "Quel est le préavis ?"})
        assert r.status_code == 200 and r.json()["citations"], r.text
        assert client.get("/api/documents", headers=ASK).status_code == 200
        assert client.get("/health").status_code == 200
        gate.set()
        assert holder.future.result(timeout=60).status == "terminé"
        assert client.delete("/api/documents/contrat", headers=ADMIN).status_code == 200
    assert not list(uploads.iterdir())


class Asker(threading.Thread):
    """Asks, lists and checks health over HTTP in a loop; counts answers, keeps failures."""

    def __init__(self, url: str) -> None:
        super().__init__(name="asker", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answered = 0
        self.failures: list[str] = []

    def run(self) -> None:
        question = {"question": "Quelle est la durée du contrat ?", "documents": [CRAFT.stem]}
        with httpx.Client(base_url=self.url, timeout=300) as client:
            while not self.stop.is_set():
                for r in (client.post("/api/ask", headers=ASK, json=question),
                          client.get("/api/documents", headers=ASK), client.get("/health")):
                    if r.status_code != 200:
                        self.failures.append(f"{r.request.url.path}: {r.status_code} {r.text}")
                self.answered += 1
                self.stop.wait(0.2)


@pytest.mark.integration
def test_large_upload_in_background_while_questions_and_a_deletion_run(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", max_upload_mb=4, max_file_mb=4,
                             write_lock_timeout_s=2, api_timeout_s=300)
    service = ContractQA(settings)
    assert service.ingest([CRAFT, KIMPLE]).ok
    large = text_with_planted_sentence(1.0).encode("utf-8")
    with serving(create_api(service, settings)) as url, \
            httpx.Client(base_url=url, timeout=300) as client:
        r = client.post("/api/documents", headers=ADMIN,
                        files=[("files", ("sans_articles.txt", large, "text/plain"))])
        assert r.status_code == 202, r.text
        job_url = r.json()["url"]
        asker = Asker(url)
        asker.start()
        polls: list[dict[str, Any]] = []  # status, stage, passages done, fraction, answers
        deletion: httpx.Response | None = None
        deadline = time.monotonic() + 1800
        try:
            while True:
                job = client.get(job_url, headers=ADMIN).json()
                file = job["files"][0]
                polls.append({"status": job["status"], "stage": file["stage"],
                              "done": file["passages_done"], "progress": job["progress"],
                              "answered": asker.answered})
                if deletion is None and file["stage"] == "vectorisation" and file["passages_done"]:
                    deletion = client.delete(f"/api/documents/{KIMPLE.stem}", headers=ADMIN)
                    after = client.get(job_url, headers=ADMIN).json()
                if job["status"] in ("terminé", "échec"):
                    break
                assert time.monotonic() < deadline, f"job not finished: {job}"
                time.sleep(0.5)
        finally:
            asker.stop.set()
            asker.join(timeout=300)
        assert not asker.failures, asker.failures[:5]

        # The job ended well, its progress grew, questions answered while it ran.
        assert job["status"] == "terminé" and job["ok"], job
        (result,) = job["results"]
        assert result["status"] == "indexed" and result["chunks"] > 500, result
        assert file == {"filename": "sans_articles.txt", "stage": "terminé",
                        "passages_done": result["chunks"], "passages_total": result["chunks"]}
        embedded = [p["done"] for p in polls if p["stage"] == "vectorisation"]
        assert len(set(embedded)) >= 2 and embedded == sorted(embedded), embedded
        assert [p["progress"] for p in polls] == sorted(p["progress"] for p in polls)
        running = [p["answered"] for p in polls if p["status"] == "en_cours"]
        assert running[-1] > running[0], polls  # answers between two polls of a running job

        # The deletion issued during the job waited for it, then said so (or found it done).
        assert deletion is not None, polls
        if deletion.status_code == 503:
            error = assert_error(deletion, 503, "index_busy")
            assert r.json()["job_id"] in error["message"] and "Réessayez" in error["message"]
            assert f"la suppression de « {KIMPLE.stem} »" in error["message"], error
            deletion = client.delete(f"/api/documents/{KIMPLE.stem}", headers=ADMIN)
        else:
            assert after["status"] == "terminé", (deletion.text, after)
        assert deletion.status_code == 200, deletion.text

        # The large document is searchable; the other contracts are as they should be.
        listed = sorted(d["document_id"] for d in client.get("/api/documents", headers=ASK).json())
        assert listed == sorted([CRAFT.stem, result["document_id"]])
        r = client.post("/api/ask", headers=ASK, json={"question": PLANTED_QUESTION,
                                                       "documents": [result["document_id"]]})
        assert r.status_code == 200, r.text
        assert "zéphyrin cobalt" in " ".join(c["excerpt"] for c in r.json()["citations"]), r.text
    assert_consistent(service.store)
