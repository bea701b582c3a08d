"""Ingest and ask through a real `chroma run` server on the loopback interface."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CHROMA = ROOT / ".venv" / "bin" / "chroma"
KIMPLE = ROOT / "data" / "contracts" / "004_f17bc88fae2ffff9.txt"
CT_DPA = ROOT / "data" / "extra-contracts" / "cloudtemple_dpa.txt"

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    for path in ("/api/v2/heartbeat", "/api/v1/heartbeat"):
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            continue
    return False


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    assert CHROMA.exists(), f"{CHROMA} missing: chromadb's CLI is needed for this test"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not answers(url):
            if proc.poll() is not None:
                log.flush()
                pytest.fail(f"chroma server exited: {(tmp_path / 'chroma.log').read_text()}")
            if time.monotonic() > deadline:
                pytest.fail("chroma server did not answer within 60 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_ingest_and_ask_through_chroma_server(
    chroma_server: str, tmp_path: Path, corpus_dir: Path, sample_service: ContractQA
) -> None:
    data = tmp_path / "data"
    # Reuse the session corpus's embedding cache (exact: keyed by model and text).
    shutil.copytree(corpus_dir / "cache", data / "cache")
    settings = Settings(data_dir=data, chroma_url=chroma_server,  # type: ignore[call-arg]
                        _env_file=None)
    service = ContractQA(settings)
    report = service.ingest([KIMPLE, CT_DPA])
    assert report.ok, [r.message for r in report.results]
    assert [r.status for r in report.results] == ["indexed", "indexed"]
    assert not (data / "chroma").exists(), "the server, not a local store, must be used"
    count = service.store.count_chunks()
    expected = {k: r.chunks for k, r in sample_service.store.records().items()
                if k in (KIMPLE.stem, CT_DPA.stem)}
    assert {k: r.chunks for k, r in service.store.records().items()} == expected
    assert count == sum(expected.values())

    report = service.ingest([KIMPLE, CT_DPA])
    assert [r.status for r in report.results] == ["unchanged", "unchanged"]
    assert service.store.count_chunks() == count

    # A second client of the same server sees the same documents.
    other = ContractQA(settings)
    assert [r.document_id for r in other.documents()] == sorted([KIMPLE.stem, CT_DPA.stem])

    answer = service.ask("Quelle est la loi applicable et la juridiction compétente ?",
                         documents=[CT_DPA.stem])
    assert not answer.abstained, answer.answer
    assert answer.citations
    assert all(c.document_id == CT_DPA.stem for c in answer.citations)
    assert any(c.article == "16" for c in answer.citations), [
        (c.article, c.heading) for c in answer.citations]
