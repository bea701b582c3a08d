"""The chat in a real headless Chromium against `contractqa serve`.

Starts the server on a free port over a fresh index of the sample contracts, asks about the
liability cap of Craft AI's MSA (article 10.2 must be cited), copies and exports the answer,
then uploads a DOCX from the page and asks about its clause. Screenshots go to tests/artifacts/;
`make screenshot` (pytest --update-screenshot) also copies the answer to docs/screenshot-chat.png
for the README, so a plain `make test` leaves the tracked tree as it was.

Chromium must be /usr/bin/chromium (`make browser-deps`); when it cannot be launched the test
fails with the fix, it never skips. `playwright install` is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import CONTRACTS, ROOT
from tests.helpers_docs import MAINTENANCE_TITLE as DOCX_TITLE
from tests.helpers_docs import maintenance_docx
from tests.servers import free_port, http_ok, launch_chromium, running

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ARTIFACTS = ROOT / "tests" / "artifacts"
README_SHOT = ROOT / "docs" / "screenshot-chat.png"
LIABILITY_Q = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
DOCX_Q = (
    "Quelle pénalité le prestataire verse-t-il en cas de retard d'intervention sur les "
    "ascenseurs selon le contrat de maintenance Zephyrin ?"
)


def _cli() -> str:
    """The `contractqa` entry point of the environment running the tests."""
    for candidate in (Path(sys.executable).parent / "contractqa", ROOT / ".venv/bin/contractqa"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("contractqa")
    if not found:
        pytest.fail("the `contractqa` command is not installed: run `make install`")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`contractqa serve` over the ingested sample contracts; yields its base URL."""
    data = tmp_path_factory.mktemp("browser-data")
    port = free_port()
    env = {
        **os.environ,
        "CONTRACTQA_DATA_DIR": str(data),
        "CONTRACTQA_HOST": "127.0.0.1",
        "CONTRACTQA_PORT": str(port),
        "CONTRACTQA_LLM_PROVIDER": "none",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    ingest = subprocess.run(
        [_cli(), "ingest", str(CONTRACTS)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    base = f"http://127.0.0.1:{port}"
    with running([_cli(), "serve"], data / "serve.log", lambda: http_ok(f"{base}/health"),
                 what="contractqa serve", env=env):
        yield base


def _text(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_chat_cites_article_and_uploaded_docx(server: str, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    docx = maintenance_docx(tmp_path / "zephyrin_maintenance.docx")

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page: Page | None = None
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 1000}, locale="fr-FR",
                permissions=["clipboard-read", "clipboard-write"], accept_downloads=True,
            )
            page = context.new_page()
            page.set_default_timeout(90_000)
            page.goto(server + "/")
            page.wait_for_selector("#cq-question textarea")
            page.screenshot(path=str(ARTIFACTS / "chat-empty.png"))

            # 1. The liability cap of Craft AI's MSA: answer streamed in, article 10.2 cited.
            page.fill("#cq-question textarea", LIABILITY_Q)
            page.click("#cq-send")
            page.wait_for_function(
                "() => document.querySelector('#cq-sources').innerText.includes('Article 10.2')"
            )
            chat = _text(page, "#cq-chat")
            assert LIABILITY_Q in chat
            assert "[1]" in chat and "art. 10.2" in chat, chat[-1500:]
            assert "Question rapportée au contrat" in chat
            assert "Mode extractif" in chat
            refs = page.locator("#cq-sources .cq-ref").all_inner_texts()
            assert any("Article 10.2" in r for r in refs), refs
            card = page.locator(".cq-source", has_text="Article 10.2").first
            assert card.locator("mark").count() >= 1  # the supporting sentence is highlighted
            card.locator("summary").click()  # "Voir l'article complet"
            assert "douze (12) mois" in card.locator(".cq-article-text").inner_text()
            page.wait_for_selector("#cq-export:not([disabled])")  # the answer is complete
            page.mouse.move(0, 0)
            page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))
            if request.config.getoption("--update-screenshot"):
                shutil.copyfile(ARTIFACTS / "chat-answer.png", README_SHOT)

            # 2. Copy the answer with its citations; export the conversation as Markdown.
            page.click("#cq-copy")
            page.wait_for_timeout(500)
            copied = str(page.evaluate("navigator.clipboard.readText()"))
            assert copied.startswith("Question : " + LIABILITY_Q) and "10.2" in copied, copied
            with page.expect_download() as info:
                page.click("#cq-export")
            exported = Path(str(info.value.path())).read_text(encoding="utf-8")
            assert exported.startswith("# Conversation ContractQA")
            assert LIABILITY_Q in exported and "10.2" in exported

            # 3. Upload a DOCX from the page: progress, per-file result, searchable at once.
            page.get_by_role("tab", name="Contrats").click()
            # The upload box is shown once the page has read who the user is (issue 22).
            page.wait_for_selector("#cq-upload-box", state="visible")
            page.set_input_files("#cq-upload input[type=file]", str(docx))
            page.wait_for_selector("#cq-upload >> text=zephyrin_maintenance.docx")
            page.click("#cq-ingest")
            page.wait_for_selector("#cq-ingest-report .cq-ok >> text=zephyrin_maintenance.docx")
            report = _text(page, "#cq-ingest-report")
            assert "article(s) trouvé(s)" in report, report
            assert DOCX_TITLE in _text(page, "#cq-documents")
            page.wait_for_function(
                "() => document.querySelector('#cq-outline').innerText.includes('Pénalités')"
            )
            page.screenshot(path=str(ARTIFACTS / "contracts-upload.png"))

            page.get_by_role("tab", name="Questions").click()
            page.fill("#cq-question textarea", DOCX_Q)
            page.click("#cq-send")
            page.wait_for_function(
                f"() => document.querySelector('#cq-sources').innerText.includes('{DOCX_TITLE}')"
            )
            page.wait_for_function(
                "() => document.querySelector('#cq-chat').innerText.includes('777 euros')"
            )
            cards = page.locator(".cq-source", has_text=DOCX_TITLE).all_inner_texts()
            assert any("Article 2" in c and "777 euros" in c for c in cards), cards
            page.screenshot(path=str(ARTIFACTS / "chat-docx-answer.png"))

            # 4. Remove the uploaded contract (after the browser's confirmation dialog).
            page.get_by_role("tab", name="Contrats").click()
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#cq-delete")
            page.wait_for_function(
                "() => !document.querySelector('#cq-documents').innerText"
                f".includes('{DOCX_TITLE}')"
            )
            assert "Craft AI".upper() in _text(page, "#cq-documents").upper()
        except Exception:
            if page is not None:
                page.screenshot(path=str(ARTIFACTS / "chat-failure.png"))
            raise
        finally:
            browser.close()
