"""Several writers and readers on one data dir: real processes, real Chroma, real embedder."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.wiring import open_store
from ingest.lexical import LexicalIndex
from ingest.locking import writer_lock
from tests.test_ingest import CLI, CONTRACTS, EXTRA, assert_consistent, cli_env, run_cli

pytestmark = pytest.mark.integration

KIMPLE = CONTRACTS / "004_f17bc88fae2ffff9.txt"
CRAFT = CONTRACTS / "000_863f8398c9eb4693.txt"
DPA = EXTRA / "cloudtemple_dpa.txt"


@pytest.fixture
def corpus_cache(sample_service: ContractQA, corpus_dir: Path) -> Path:
    """The session corpus dir, once ingested (its embedding cache is then filled)."""
    del sample_service
    return corpus_dir


def data_with_cache(corpus_dir: Path, tmp_path: Path) -> Path:
    """A fresh data dir that reuses the session corpus's embeddings (exact: keyed by text)."""
    data = tmp_path / "data"
    shutil.copytree(corpus_dir / "cache", data / "cache")
    shutil.rmtree(data / "cache" / "lexical", ignore_errors=True)
    return data


def start_cli(args: list[str], data: Path, cwd: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(CLI), *args], cwd=cwd, env=cli_env(data, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_cli_ingests_at_once_both_complete(
    sample_service: ContractQA, corpus_dir: Path, tmp_path: Path
) -> None:
    data = data_with_cache(corpus_dir, tmp_path)
    first = start_cli(["ingest", str(KIMPLE), str(CRAFT)], data, tmp_path)
    second = start_cli(["ingest", str(DPA), str(KIMPLE)], data, tmp_path)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    for proc, (out, err) in zip((first, second), outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in err, err
    store = open_store(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    expected = {p.stem: sample_service.store.records()[p.stem].chunks for p in (KIMPLE, CRAFT, DPA)}
    assert {k: r.chunks for k, r in store.records().items()} == expected
    assert store.count_chunks() == sum(expected.values())
    assert_consistent(store)
    asked = run_cli(["ask", "Quelle est la durée du contrat ?", "--document", KIMPLE.stem,
                     "--json"], data, tmp_path)
    assert asked.returncode == 0, asked.stderr


def test_second_writer_waits_with_a_message_then_refuses_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with writer_lock(data, timeout=1):
        waiting = start_cli(["ingest", str(KIMPLE)], data, tmp_path)
        refused = run_cli(["delete", "inconnu"], data, tmp_path,
                          CONTRACTQA_WRITE_LOCK_TIMEOUT_S="1")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "Traceback" not in refused.stderr
        assert str(data) in refused.stderr and "Réessayez" in refused.stderr, refused.stderr
        time.sleep(2)
        assert waiting.poll() is None, "the second writer must wait for the lock"
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, out + err
    assert "Une autre indexation ou suppression modifie l'index" in err, err
    assert f"OK  {KIMPLE.stem}" in out


def test_a_running_service_sees_what_the_cli_indexed_and_deleted(
    corpus_cache: Path, tmp_path: Path
) -> None:
    data = data_with_cache(corpus_cache, tmp_path)
    service = ContractQA(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    assert service.ingest([CRAFT]).ok
    assert not service.ask("Quelle est la durée du contrat ?").abstained

    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_in_loop() -> None:
        while not stop.is_set():
            try:
                service.ask("Quelle est la loi applicable ?")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)
                return

    askers = [threading.Thread(target=ask_in_loop) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        done = run_cli(["ingest", str(KIMPLE)], data, tmp_path, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        answer = service.ask("Quelle est la durée du contrat ?", documents=[KIMPLE.stem])
        assert answer.citations and {c.document_id for c in answer.citations} == {KIMPLE.stem}

        done = run_cli(["delete", KIMPLE.stem], data, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert [d.document_id for d in service.documents()] == [CRAFT.stem]
        for question in ("Quelle est la durée du contrat Kimple ?", "Qui est l'éditeur Kimple ?"):
            cited = {c.document_id for c in service.ask(question).citations}
            assert KIMPLE.stem not in cited, question
    finally:
        stop.set()
        for thread in askers:
            thread.join(timeout=120)
    assert not errors, errors

    # The service writes again after the CLI did: its client must not overwrite the CLI's work.
    assert service.ingest([DPA]).ok
    store = open_store(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    assert sorted(store.records()) == sorted([CRAFT.stem, DPA.stem])
    assert_consistent(store)


def test_concurrent_questions_right_after_an_index_change(
    corpus_cache: Path, tmp_path: Path
) -> None:
    data = data_with_cache(corpus_cache, tmp_path)
    service = ContractQA(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    assert service.ingest([CRAFT, KIMPLE]).ok
    service.ask("Quelle est la durée ?")
    errors: list[BaseException] = []
    builds: list[int] = []
    real = LexicalIndex._write

    def counted(index: LexicalIndex, add: list[str], gone: list[str], *args: object
                ) -> dict[str, list[int]]:
        builds.append(len(add) + len(gone))
        return real(index, add, gone, *args)  # type: ignore[arg-type]

    def ask() -> None:
        try:
            service.ask("Quelle est la loi applicable ?")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LexicalIndex, "_write", counted)
        assert service.delete(KIMPLE.stem)
        threads = [threading.Thread(target=ask) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert builds == [1], builds  # one change to the index: the deleted document, once
    leftovers = [p.name for p in (data / "cache").rglob("*.tmp")]
    assert not leftovers, leftovers


def test_questions_during_an_own_ingest_neither_fail_nor_reopen(
    corpus_cache: Path, tmp_path: Path
) -> None:
    data = data_with_cache(corpus_cache, tmp_path)
    service = ContractQA(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    assert service.ingest([CRAFT]).ok
    service.ask("Quelle est la durée ?")
    reopened: list[int] = []
    real_reopen = service.store._reopen
    assert real_reopen is not None

    def counted() -> object:
        reopened.append(1)
        return real_reopen()

    service.store._reopen = counted  # type: ignore[assignment]
    errors: list[BaseException] = []
    writer = threading.Thread(target=lambda: service.ingest([KIMPLE, DPA]))
    writer.start()
    asked = 0
    while writer.is_alive():
        try:
            service.ask("Quelle est la loi applicable ?")
            asked += 1
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
            break
    writer.join(timeout=300)
    assert not errors, errors
    assert asked > 0 and not reopened, (asked, reopened)
    assert sorted(d.document_id for d in service.documents()) == sorted(
        [CRAFT.stem, KIMPLE.stem, DPA.stem])
