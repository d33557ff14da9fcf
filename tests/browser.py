"""Browser fixtures: the workbench served by uvicorn on a free port (a thread of this test
process), and Debian's Chromium driven headless by Playwright.

Chromium is /usr/bin/chromium (``make test`` installs it with apt when missing); without it
the browser tests skip and say why, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from conftest import need
from workbench import PASSWORD

CHROMIUM = Path(os.environ.get("HUTONG_CHROMIUM", "/usr/bin/chromium"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="served")
def served_fixture(app) -> Iterator[str]:
    """The workbench's base URL, served for the test."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the workbench did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(name="browser", scope="session")
def browser_fixture():
    need(CHROMIUM, "Chromium (apt install chromium; `make test` does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture(name="signed_in")
def signed_in_fixture(browser, served):
    """``signed_in(user)`` → a page of a fresh browser context, signed in through the form."""
    contexts = []

    def sign_in(username: str, path: str = "/queue"):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{served}{path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{served}{path}")
        return page

    yield sign_in
    for context in contexts:
        context.close()
