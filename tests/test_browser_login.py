"""Logins in a real headless Chromium against the app served on 127.0.0.1 with declared users:
a reader logs in, asks, and has no upload or removal control; an admin logs in and removes a
contract. Screenshots go to tests/artifacts/. Chromium must be /usr/bin/chromium (`make
browser-deps`); `playwright install` is never used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contractqa.security.audit import read_audit
from contractqa.service import ContractQA
from contractqa.settings import Settings
from contractqa.ui.app import create_app
from tests.conftest import ROOT
from tests.servers import launch_chromium, serving
from tests.test_matters import HYDROLYS, VELORIA

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ARTIFACTS = ROOT / "tests" / "artifacts"
USERS = "alice:alice-token-123:reader:dossier-a,root:root-token-890:admin"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ContractQA]]:
    root = tmp_path_factory.mktemp("browser-login")
    for name, text in (("hydrolys", HYDROLYS), ("veloria", VELORIA)):
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    settings = Settings(data_dir=root / "data", api_tokens=USERS,  # type: ignore[call-arg]
                        _env_file=None)
    service = ContractQA(settings)
    assert service.ingest([root / "hydrolys.txt"], matters=["dossier-a"]).ok
    assert service.ingest([root / "veloria.txt"], matters=["dossier-b"]).ok
    with serving(create_app(settings, service)) as base:
        yield base, service


def _login(page: Page, base: str, name: str, token: str) -> None:
    page.goto(base + "/")
    page.wait_for_selector("#cq-login")  # sent to the login form
    assert "/login" in page.url
    page.fill("#cq-login-name", name)
    page.fill("#cq-login-token", token)
    page.click("#cq-login-submit")
    page.wait_for_selector("#cq-question textarea")
    page.wait_for_selector(f"#cq-user >> text={name}")


def test_a_reader_asks_without_controls_and_an_admin_removes_a_contract(
        served: tuple[str, ContractQA]) -> None:
    from playwright.sync_api import sync_playwright

    base, service = served
    titles = {d.document_id: d.title for d in service.documents()}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page: Page | None = None
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                          locale="fr-FR")
            page = context.new_page()
            page.set_default_timeout(90_000)

            # A wrong token: the form says so, in French.
            page.goto(base + "/login")
            page.fill("#cq-login-name", "alice")
            page.fill("#cq-login-token", "not-her-token")
            page.click("#cq-login-submit")
            page.wait_for_selector("text=Identifiant ou jeton incorrect")

            # 1. The reader: asks and is answered from her matter's contract.
            _login(page, base, "alice", "alice-token-123")
            assert "lecteur" in page.inner_text("#cq-user")
            page.fill("#cq-question textarea", "Quelle est la durée du marché Hydrolys ?")
            page.click("#cq-send")
            page.wait_for_function(
                "() => document.querySelector('#cq-chat').innerText.includes('deux ans')")
            page.get_by_role("tab", name="Contrats").click()
            page.wait_for_function(
                "() => document.querySelector('#cq-documents').innerText.includes('hydrolys')")
            assert "veloria" not in page.inner_text("#cq-documents")
            for control in ("#cq-upload", "#cq-ingest", "#cq-delete", "#cq-matter",
                            "#cq-set-matters"):
                assert not page.locator(control).is_visible(), control
            page.screenshot(path=str(ARTIFACTS / "login-reader.png"))
            page.click("#cq-user a")  # « Se déconnecter »
            page.wait_for_selector("#cq-login")

            # 2. The admin: sees every contract, and removes Veloria.
            _login(page, base, "root", "root-token-890")
            page.get_by_role("tab", name="Contrats").click()
            page.wait_for_function(
                "() => document.querySelector('#cq-documents').innerText.includes('veloria')")
            assert page.locator("#cq-ingest").is_visible()
            assert page.locator("#cq-set-matters").is_visible()
            page.click("#cq-doc-picker input")
            page.get_by_role("option", name=titles["veloria"]).click()
            page.wait_for_selector("#cq-delete")
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#cq-delete")
            page.wait_for_function(
                "() => !document.querySelector('#cq-documents').innerText.includes('veloria')")
            page.screenshot(path=str(ARTIFACTS / "login-admin-removed.png"))
        except Exception:
            if page is not None:
                page.screenshot(path=str(ARTIFACTS / "login-failure.png"))
            raise
        finally:
            browser.close()
    assert [d.document_id for d in service.documents()] == ["hydrolys"]
    log = read_audit(Path(service.settings.data_dir) / "audit.log")
    assert any(r["event"] == "delete" and r["token"] == "root" and r["status"] == 200
               and r["document_id"] == "veloria" for r in log)
    assert any(r["event"] == "ask_stream" and r["token"] == "alice" for r in log)
