"""Streaming with the local model (Qwen2.5-Coder-0.5B, `make llm`) in real headless Chromium.

One `contractqa serve` with CONTRACTQA_LLM_PROVIDER=local over Craft AI's contract; the chat
("/") and the widget (on its demo page, "/widget/demo.html") each ask one question. Both must
say that the model is reading before its first token, show the answer growing in several
updates, and end with markers that point to listed sources.

The judge runs but its threshold is 0 here, so it never refuses: these tests are about
streaming, not about the 0.5B's judgement. One thread, a 1,200-token context: each answer
takes about a minute on 2 shared cores. Chromium is /usr/bin/chromium (`make browser-deps`);
it never skips.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from retrieval.chain import READING
from retrieval.gguf import QWEN_05B, join
from tests.conftest import CONTRACTS, ROOT
from tests.servers import free_port, http_ok, launch_chromium, running

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BIN = ROOT / ".venv" / "bin"
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "llm-widget-token-1"
QUESTION = "Quel est le plafond de responsabilité prévu dans le MSA de Craft AI ?"
ANSWER_TIMEOUT_MS = 420_000  # judge + generation on one thread of a shared 2-core machine
# Records every text the chat shows, in order, as it changes.
OBSERVE_CHAT = """() => {
  window.__seen = [];
  const chat = document.querySelector('#cq-chat');
  new MutationObserver(() => {
    const text = chat.innerText;
    if (window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""
# Records the widget's last answer bubble (its classes, then its text) as it changes.
OBSERVE_WIDGET = """() => {
  window.__seen = [];
  const root = document.querySelector('contractqa-widget').shadowRoot;
  new MutationObserver(() => {
    const bubbles = root.querySelectorAll('.msg.bot');
    const last = bubbles[bubbles.length - 1];
    const text = last ? last.className + '|' + last.innerText : '';
    if (window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
  }).observe(root.querySelector('.log'), {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`contractqa serve` in LLM mode (local 0.5B) over Craft AI's contract; its base URL."""
    from contractqa.settings import Settings

    model = join(QWEN_05B, Settings(_env_file=None).cache_dir)  # type: ignore[call-arg]
    data = tmp_path_factory.mktemp("llm-browser")
    port = free_port()
    env = {**os.environ, "CONTRACTQA_DATA_DIR": str(data), "CONTRACTQA_HOST": "127.0.0.1",
           "CONTRACTQA_PORT": str(port), "CONTRACTQA_LLM_PROVIDER": "local",
           "CONTRACTQA_LLM_MODEL_PATH": str(model), "CONTRACTQA_LLM_THREADS": "1",
           "CONTRACTQA_LLM_CONTEXT_TOKENS": "1200", "CONTRACTQA_LLM_JUDGE_THRESHOLD": "0",
           "CONTRACTQA_LLM_TIMEOUT_S": "400", "CONTRACTQA_API_TIMEOUT_S": "400",
           "CONTRACTQA_API_TOKENS": f"widget:{TOKEN}", "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([str(BIN / "contractqa"), "ingest", str(CONTRACTS / "000_863f8398c9eb4693.txt")],
                   cwd=ROOT, env=env, check=True, timeout=600, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    with running([str(BIN / "contractqa"), "serve"], data / "serve.log",
                 lambda: http_ok(url + "/health"), what="contractqa serve", env=env):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 950}, locale="fr-FR")
    pg = context.new_page()
    pg.set_default_timeout(ANSWER_TIMEOUT_MS)
    yield pg
    context.close()


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_chat_streams_the_local_models_answer(server: str, page: Page) -> None:
    # A user is declared (the widget's token), so the chat asks for a login (issue 22).
    page.goto(server + "/")
    page.wait_for_selector("#cq-login")
    page.fill("#cq-login-name", "widget")
    page.fill("#cq-login-token", TOKEN)
    page.click("#cq-login-submit")
    page.wait_for_selector("#cq-question textarea")
    page.evaluate(OBSERVE_CHAT)
    page.fill("#cq-question textarea", QUESTION)
    page.click("#cq-send")
    page.wait_for_function(f"() => document.querySelector('#cq-chat').innerText"
                           f".includes('{READING}')")
    shot(page, "llm-chat-reading.png")
    page.wait_for_selector("#cq-export:not([disabled])")  # the final answer is shown
    seen: list[str] = page.evaluate("window.__seen")
    reading = next(i for i, t in enumerate(seen) if READING in t)
    first_token = next(i for i, t in enumerate(seen) if "▍" in t)
    assert reading < first_token  # the status comes before the first token
    lengths = [len(t) for t in seen if "▍" in t]
    assert len(set(lengths)) >= 3 and lengths == sorted(lengths), seen[-5:]  # growing
    chat = page.locator("#cq-chat").inner_text()
    answer = chat[chat.rindex(QUESTION) + len(QUESTION):]
    # The mode note names the model, or says its sentences were not kept (the 0.5B often
    # numbers a sentence after the wrong excerpt: the quotes are then shown).
    assert "qwen2.5-coder-0.5b" in answer or "Le modèle de langage" in answer, answer
    numbers = {int(n.strip("[]")) for n in page.locator("#cq-sources .cq-n").all_inner_texts()}
    assert numbers and markers(answer) <= numbers, answer
    shot(page, "llm-chat-answer.png")


def test_widget_streams_the_local_models_answer(server: str, page: Page) -> None:
    widget = "contractqa-widget"
    page.goto(f"{server}/widget/demo.html#api={server}&token={TOKEN}")
    page.locator(f"{widget} .fab").click()
    page.locator(f"{widget} textarea").fill(QUESTION)
    page.evaluate(OBSERVE_WIDGET)
    page.locator(f"{widget} form button").click()
    expect(page.locator(f"{widget} .msg.pending .status")).to_have_text(
        READING, timeout=ANSWER_TIMEOUT_MS)
    shot(page, "llm-widget-reading.png")
    answer = page.locator(f"{widget} .msg.bot:not(.pending)").last
    answer.locator("ol.cites li").first.wait_for()
    seen: list[str] = page.evaluate("window.__seen")
    pending = [t.split("|", 1)[1] for t in seen if "pending" in t.split("|", 1)[0]]
    reading = next(i for i, t in enumerate(pending) if READING in t)
    partial = [t for t in pending[reading + 1:] if t.strip() and READING not in t]
    lengths = [len(t) for t in partial]
    assert len(set(lengths)) >= 3 and lengths == sorted(lengths), pending[-5:]
    assert page.locator(f"{widget} .status").count() == 0  # gone once the text arrives
    text = answer.locator(".text").inner_text()
    listed = answer.locator("ol.cites li").count()
    assert markers(text) and all(1 <= n <= listed for n in markers(text)), text
    shot(page, "llm-widget-answer.png")
