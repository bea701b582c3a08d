"""The embeddable widget in real headless Chromium, against a real `contractqa serve`.

The API runs in a subprocess on one loopback port; the demo host page (contractqa/static/demo.html)
is served from two other ports: one listed in CONTRACTQA_ALLOWED_ORIGINS, one not. Chromium must
launch: if it cannot, these tests fail (they never skip). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.helpers_docs import HOSTILE_CONTRACT
from tests.servers import free_port, http_ok, launch_chromium, running

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
ARTIFACTS = ROOT / "tests" / "artifacts"
ASK_TOKEN = "widget-ask-token-1"
ADMIN_TOKEN = "widget-admin-token-1"
QUESTION = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
WIDGET = "contractqa-widget"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def host_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """The demo page served from two loopback ports: (allowed origin, refused origin)."""
    site = tmp_path_factory.mktemp("intranet")
    shutil.copy(ROOT / "contractqa" / "static" / "demo.html", site / "demo.html")
    handler = functools.partial(_Quiet, directory=str(site))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers[0].server_address[1], servers[1].server_address[1]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory, host_pages: tuple[int, int]) -> Iterator[str]:
    """`contractqa serve` on a free port, after `contractqa ingest data/contracts`."""
    data = tmp_path_factory.mktemp("widget-data")
    port = free_port()
    env = {**os.environ, "CONTRACTQA_DATA_DIR": str(data), "CONTRACTQA_HOST": "127.0.0.1",
           "CONTRACTQA_PORT": str(port), "CONTRACTQA_LLM_PROVIDER": "none",
           "CONTRACTQA_API_TOKENS": f"widget:{ASK_TOKEN},admin:{ADMIN_TOKEN}:admin",
           "CONTRACTQA_ALLOWED_ORIGINS": f"http://127.0.0.1:{host_pages[0]}"}
    subprocess.run([str(BIN / "contractqa"), "ingest", "data/contracts"], cwd=ROOT, env=env,
                   check=True, timeout=600, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    with running([str(BIN / "contractqa"), "serve"], data / "server.log",
                 lambda: http_ok(url + "/health"), what="contractqa serve", env=env):
        r = httpx.post(url + "/api/documents?wait=true",
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                       files=[("files", ("piege.txt", HOSTILE_CONTRACT.encode(), "text/plain"))],
                       timeout=120)
        assert r.status_code == 200 and r.json()["ok"], r.text
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="fr-FR")
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore
    yield pg
    context.close()


def open_widget(page: Page, host_port: int, api: str) -> None:
    page.goto(f"http://127.0.0.1:{host_port}/demo.html#api={api}&token={ASK_TOKEN}")
    page.locator(f"{WIDGET} .fab").click()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()


def ask(page: Page, question: str) -> None:
    page.locator(f"{WIDGET} textarea").fill(question)
    page.locator(f"{WIDGET} form button").click()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_widget_answers_with_cited_articles(
    page: Page, api_url: str, host_pages: tuple[int, int]
) -> None:
    open_widget(page, host_pages[0], api_url)
    expect(page.locator(f"{WIDGET} select option")).to_have_count(7)  # "Tous" + 5 + piège
    ask(page, QUESTION)
    answer = page.locator(f"{WIDGET} .msg.bot:not(.pending)").last
    expect(answer.locator("ol.cites li").first).to_be_visible(timeout=60_000)
    cited = answer.locator("summary", has_text="art. 10.2")
    expect(cited.first).to_be_visible()
    cited.first.click()
    quote = answer.locator("details[open] blockquote").first
    expect(quote).to_be_visible()
    expect(quote).to_contain_text("douze (12) mois")
    expect(answer.locator("button.ref").first).to_be_visible()  # "[1]" opens its source
    # Host styles (red buttons, hidden <details>) do not reach the Shadow DOM, and back.
    fab_bg = page.locator(f"{WIDGET} .fab").evaluate("e => getComputedStyle(e).backgroundColor")
    assert fab_bg == "rgb(29, 78, 216)"
    assert page.locator("h1").evaluate("e => getComputedStyle(e).color") == "rgb(91, 33, 182)"
    shot(page, "widget_answer.png")
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_contract_markup_is_shown_as_text(
    page: Page, api_url: str, host_pages: tuple[int, int]
) -> None:
    open_widget(page, host_pages[0], api_url)
    page.locator(f"{WIDGET} select").select_option("piege")
    ask(page, "Quelle pénalité en cas de retard de livraison ?")
    answer = page.locator(f"{WIDGET} .msg.bot:not(.pending)").last
    expect(answer.locator("ol.cites li").first).to_be_visible(timeout=60_000)
    for summary in answer.locator("summary").all():
        summary.click()
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    expect(answer).to_contain_text("<script>alert(1)</script>")
    counts = page.evaluate(
        """() => { const root = document.querySelector('contractqa-widget').shadowRoot;
                   return [root.querySelectorAll('img').length,
                           root.querySelectorAll('script').length,
                           document.querySelectorAll('img').length]; }""")
    assert counts == [0, 0, 0]
    page.wait_for_timeout(500)  # give a hypothetical onerror/alert the time to fire
    shot(page, "widget_hostile_contract.png")
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_refused_origin_gets_no_answer(
    page: Page, api_url: str, host_pages: tuple[int, int]
) -> None:
    requests: list[str] = []
    page.on("requestfinished", lambda r: requests.append(f"{r.method} {r.url}"))
    open_widget(page, host_pages[1], api_url)
    ask(page, QUESTION)
    error = page.locator(f"{WIDGET} .msg.error").last
    expect(error).to_contain_text("Impossible de joindre", timeout=30_000)
    expect(page.locator(f"{WIDGET} ol.cites")).to_have_count(0)
    assert not [r for r in requests if r.startswith("POST ") and "/api/ask" in r]
    shot(page, "widget_refused_origin.png")
