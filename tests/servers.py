"""What the integration tests start: loopback servers (port, readiness, shutdown), Chromium."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `playwright install` is never used
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> bool:
    """True when `url` answers 200 within two seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""


@contextmanager
def running(command: list[str], log: Path, ready: Callable[[], bool], *, what: str,
            timeout: float = 180, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run `command` (output to `log`) until the block ends, once `ready()` is true.

    Fails the test, with the end of the log, when the process exits or is not ready in time;
    always stops it (terminate, then kill).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=dict(env) if env is not None else None,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"{what} exited ({proc.returncode}):\n{tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} was not ready within {timeout:.0f} s:\n{tail(log)}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def serving(app: Any, timeout: float = 60) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread of this process
    (the test keeps the app's service at hand); yields its base URL, always stops it."""
    import uvicorn

    port = free_port()
    # proxy_headers=False as `contractqa serve` runs it: the TCP peer is the client.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn exited before it was ready")
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn was not ready within {timeout:.0f} s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium; fails the test with the fix (never skips) when it cannot start."""
    from playwright.sync_api import Error

    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: install it with `make browser-deps` "
                    "(apt-get install chromium)")
    try:
        return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=CHROMIUM_ARGS)
    except Error as exc:
        pytest.fail(f"Chromium could not be launched from {CHROMIUM}: {exc}. "
                    "Run `make browser-deps`.")
