"""Shared fixtures: settings in a temp dir, one ingested sample corpus, and a network blocker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contractqa.service import ContractQA
from contractqa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "data" / "contracts"
EXTRA = ROOT / "data" / "extra-contracts"
_LOOPBACK = ("127.", "localhost", "::1", "0.0.0.0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-screenshot", action="store_true",
                     help="also copy the chat screenshot to docs/screenshot-chat.png (README)")


# Fixtures that build a real index (Chroma and the embedder): a test using one is an
# integration test, so `pytest -m "not integration"` stays a quick check of the logic.
_REAL_INDEX = {"sample_service", "corpus_dir", "corpus_cache"}
# Modules whose tests start the app, its API or the CLI on a real index, or load real models.
_REAL_MODULES = {"test_api", "test_app_handlers", "test_chain_llm", "test_embeddings",
                 "test_formats", "test_identity", "test_ingest", "test_inputs", "test_jobs",
                 "test_scale"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module in _REAL_MODULES or _REAL_INDEX & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only talk to servers they start on the loopback interface."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not host.startswith(_LOOPBACK) and "/" not in host:
            raise RuntimeError(f"network access to {host} blocked in tests")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def sample_service(corpus_dir: Path) -> Iterator[ContractQA]:
    """One service over the five sample contracts and the three extra ones, ingested once."""
    settings = Settings(data_dir=corpus_dir, _env_file=None)  # type: ignore[call-arg]
    service = ContractQA(settings)
    report = service.ingest([CONTRACTS, EXTRA])
    assert report.ok, [r.message for r in report.results if r.status == "error"]
    yield service
