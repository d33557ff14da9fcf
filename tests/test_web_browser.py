"""The workbench in a real browser (headless Chromium): sign in, work the mapping queue with
the keyboard, meet a colleague's conflicting decision, open a QC case."""

from __future__ import annotations

from browser import browser_fixture, served_fixture, signed_in_fixture  # noqa: F401
from workbench import app_fixture, login_fixture, workbench_fixture  # noqa: F401


def test_sign_in_and_out(signed_in, served):
    page = signed_in("rev1")
    assert "REV1" in page.inner_text("header")
    page.click("#logout")
    page.wait_for_url(f"{served}/login")
    page.goto(f"{served}/queue")
    assert page.url.startswith(f"{served}/login")  # the session is gone


def test_a_wrong_password_stays_on_the_login_page(browser, served):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served}/queue")
    page.fill("input[name=username]", "rev1")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("[role=alert]")
    context.close()
