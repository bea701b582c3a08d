"""The « Revue » tab in a real headless Chromium against `contractqa serve`.

Starts the server on a free loopback port over a fresh index of the sample contracts, runs the
due-diligence review over all of them, clicks Craft AI's liability-cap cell (article 10.2 shown,
its sentence highlighted), downloads the XLSX and opens it with openpyxl. Screenshots go to
tests/artifacts/. Chromium must be /usr/bin/chromium (`make browser-deps`); the test fails with
the fix when it cannot be launched, it never skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import CONTRACTS, ROOT
from tests.servers import free_port, http_ok, launch_chromium, running

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ARTIFACTS = ROOT / "tests" / "artifacts"
CAP_COLUMN = "Plafond de responsabilité"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`contractqa serve` over the ingested sample contracts; yields its base URL."""
    data = tmp_path_factory.mktemp("browser-review-data")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTQA_")}
    env.update(CONTRACTQA_DATA_DIR=str(data), CONTRACTQA_HOST="127.0.0.1",
               CONTRACTQA_PORT=str(port), CONTRACTQA_LLM_PROVIDER="none",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    cli = [sys.executable, "-m", "contractqa.cli"]
    ingest = subprocess.run([*cli, "ingest", str(CONTRACTS)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    base = f"http://127.0.0.1:{port}"
    with running([*cli, "serve"], data / "serve.log", lambda: http_ok(f"{base}/health"),
                 what="contractqa serve", env=env):
        yield base


def test_review_tab_grid_cell_and_xlsx(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import Page, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page: Page | None = None
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                          locale="fr-FR", accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(180_000)
            page.goto(server + "/")
            page.get_by_role("tab", name="Revue").click()
            page.wait_for_function(
                "() => document.querySelector('#cq-review-checklist input')?.value"
                ".startsWith('Due diligence')")

            # 1. The due-diligence review over every sample contract fills the grid.
            page.click("#cq-review-run")
            page.wait_for_selector("#cq-review-status .cq-review-status")
            status = page.locator("#cq-review-status").inner_text()
            assert "5 contrat(s) × 15 question(s)" in status, status
            grid = page.locator("#cq-review-grid")
            titles = [grid.locator(f"[data-testid=cell-{r}-0]").inner_text() for r in range(5)]
            row = next(i for i, t in enumerate(titles) if "CRAFT AI" in t.upper())
            headers = grid.locator("th[data-testid^=header-]").all_inner_texts()
            col = next(i for i, h in enumerate(headers) if h.strip() == CAP_COLUMN)
            assert "Non prévu par le contrat" in grid.inner_text()
            page.screenshot(path=str(ARTIFACTS / "review-grid.png"))

            # 2. A click on a cell shows the article with the quoted sentence highlighted.
            grid.locator(f"[data-testid=cell-{row}-{col}]").click()
            page.wait_for_selector("#cq-review-cell mark.cq-hl")
            shown = page.locator("#cq-review-cell").inner_text()
            assert "Article 10.2" in shown and "douze (12) mois" in shown, shown[:800]
            assert "responsabilité" in page.locator("#cq-review-cell mark.cq-hl").inner_text()
            page.screenshot(path=str(ARTIFACTS / "review-cell.png"))

            # 3. The XLSX download: one row per contract, one column per question, sources.
            with page.expect_download() as info:
                page.click("#cq-review-xlsx")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.suffix == ".xlsx"
            book = load_workbook(saved)
            assert book.sheetnames == ["Revue", "Sources", "Questions"]
            sheet = book["Revue"]
            assert sheet.max_row == 6 and sheet.max_column == 16
            header = [c.value for c in sheet[1]]
            cap = sheet.cell(row + 2, header.index(CAP_COLUMN) + 1).value
            assert "Article 10.2" in cap and cap.startswith("« "), cap
            assert book["Sources"].max_row == 1 + 5 * 15
        except Exception:
            if page is not None:
                page.screenshot(path=str(ARTIFACTS / "review-failure.png"))
            raise
        finally:
            browser.close()
