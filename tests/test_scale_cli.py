"""Issue 19: `contractqa bench scale-cli`, an operator's session (every CLI command, the API,
the app's page) on generated contracts indexed with the real embedder, at a size CI affords;
the benchmark runs it at 1,000 contracts (docs/figures.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scale_cli import run

pytestmark = pytest.mark.integration

COUNT = 12


def test_every_command_the_api_and_the_app_answer(tmp_path: Path) -> None:
    said: list[str] = []
    result = run(COUNT, tmp_path / "cli", said.append)
    failed = [c for c in result["commands"] if c["rc"] != 0]
    assert result["all_ok"] and not failed, failed
    assert result["ingest_statuses"] == {"indexed": COUNT}
    assert result["passages"] >= COUNT * 24
    assert result["embedder_alone_s"] > 0 and result["ingest_to_embedder_alone"] > 0
    ran = " ".join(c["command"] for c in result["commands"])
    for command in ("documents", "ask", "--batch", "articles", "matters", "review", "audit",
                    "ingest", "delete", "models", "serve", "/api/documents?q=",
                    "/api/ask", "/login"):
        assert command in ran, command
    # A rerun finds every contract unchanged by its hash: nothing re-indexed.
    again = run(COUNT, tmp_path / "cli", said.append)
    assert again["ingest_statuses"] == {"unchanged": COUNT} and again["all_ok"]
