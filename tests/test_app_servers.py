"""Issue 19: one `chroma run` server, two contractqa API servers against it (the README's
example, on 127.0.0.1): what one server indexes the other answers from, what one deletes the
other stops citing, each noticing the other's change by the version stamp kept in Chroma."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port, running
from tests.test_chroma_server import CHROMA, answers
from tests.test_ingest import SMALL

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer admin-token-456"}
QUESTION = {"question": "Quel est le préavis de résiliation chez Testia ?"}
TESTIA = "contrat_testia"
TRIES = 40  # polls of the other server, 0.5 s apart: its change is seen at the next question


def until(check: Callable[[], bool]) -> bool:
    """Poll `check` at most TRIES times."""
    for _ in range(TRIES):
        if check():
            return True
        time.sleep(0.5)
    return False


def up(url: str) -> bool:
    """The server answers (503 on /health until a contract is indexed: up all the same)."""
    try:
        return httpx.get(url + "/health", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`chroma run` on a free port, then two API servers, each with its own data dir."""
    assert CHROMA.exists(), f"{CHROMA} missing: chromadb's CLI is needed for this test"
    chroma = f"http://127.0.0.1:{free_port()}"
    with ExitStack() as stack:
        stack.enter_context(running(
            [str(CHROMA), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
             "--port", chroma.rsplit(":", 1)[1]],
            tmp_path / "chroma.log", lambda: answers(chroma), what="chroma run", timeout=60))
        urls = []
        for name in ("a", "b"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
            env.update(CONTRACTQA_DATA_DIR=str(tmp_path / name),
                       CONTRACTQA_CHROMA_URL=chroma,
                       CONTRACTQA_API_TOKENS="boss:admin-token-456:admin",
                       PYTHONPATH=str(Path(__file__).resolve().parents[1]),
                       HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                       ANONYMIZED_TELEMETRY="False")
            command = [sys.executable, "-m", "uvicorn",
                       "contractqa.api:app_from_env", "--factory", "--host", "127.0.0.1",
                       "--port", str(port)]
            stack.enter_context(running(command, tmp_path / f"server-{name}.log",
                                        partial(up, url),
                                        what=f"contractqa server {name}", env=env))
            urls.append(url)
        yield urls[0], urls[1]


def cited(url: str) -> set[str]:
    response = httpx.post(url + "/api/ask", json=QUESTION, headers=ADMIN, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return {c["document_id"] for c in body["citations"]}


def listed(url: str) -> list[str]:
    response = httpx.get(url + "/api/documents", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return [d["document_id"] for d in response.json()]


def test_two_app_servers_on_one_chroma_server(servers: tuple[str, str], tmp_path: Path
                                              ) -> None:
    first, second = servers
    assert listed(first) == [] and listed(second) == []
    upload = httpx.post(first + "/api/documents", params={"wait": "true"}, headers=ADMIN,
                        files={"files": (f"{TESTIA}.txt", SMALL.encode(), "text/plain")},
                        timeout=120)
    assert upload.status_code == 200, upload.text
    assert until(lambda: TESTIA in cited(second)), "server B never cited what A indexed"
    assert listed(second) == [TESTIA]
    assert not (tmp_path / "a" / "chroma").exists(), "the Chroma server, not a local store"

    deleted = httpx.delete(f"{second}/api/documents/{TESTIA}", headers=ADMIN, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert until(lambda: listed(first) == []), "server A still lists what B deleted"
    assert TESTIA not in cited(first)
