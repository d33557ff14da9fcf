"""The workbench in a real browser (headless Chromium): sign in, work the mapping queue with
the keyboard, meet a colleague's conflicting decision, open a QC case."""

from __future__ import annotations

from browser import browser_fixture, served_fixture, signed_in_fixture  # noqa: F401
from hutong.terminologies.store import Store
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


def _first_candidate(page):
    page.wait_for_selector("#queue tbody tr.term.current")
    page.keyboard.press("1")
    picked = page.wait_for_selector("#candidates tbody tr.candidate.picked")
    return int(picked.get_attribute("data-mapping-id")), picked.get_attribute("data-code")


def test_a_reviewer_approves_a_mapping_with_the_keyboard(signed_in, workbench):
    page = signed_in("rev1")
    term = page.get_attribute("#queue tbody tr.term.current", "data-term")
    mapping_id, code = _first_candidate(page)
    page.keyboard.press("a")
    page.wait_for_selector("#toast.show.ok")
    # the queue moved on to the next term, and the store holds the decision
    page.wait_for_function(
        "t => document.querySelector('#queue tbody tr.term.current')?.dataset.term !== t", arg=term
    )
    with Store(workbench.url) as store:
        decided = store.mapping(mapping_id)
    assert (decided.status, decided.reviewer, decided.code) == ("approved", "rev1", code)


def test_a_colleagues_earlier_decision_is_a_conflict_not_an_overwrite(signed_in, workbench):
    first, second = signed_in("rev1"), signed_in("rev2")
    mapping_id, _ = _first_candidate(first)
    assert _first_candidate(second)[0] == mapping_id  # both look at the same candidate
    second.keyboard.press("f")  # rev2 flags it first
    second.wait_for_selector("#toast.show.ok")
    first.keyboard.press("a")  # rev1 approves what they saw, now stale
    toast = first.wait_for_selector("#toast.show.error")
    message = toast.inner_text()
    assert "rev2" in message and "冲突" in message, message
    with Store(workbench.url) as store:
        kept = store.mapping(mapping_id)
    assert (kept.status, kept.reviewer) == ("flagged", "rev2")  # rev2's decision stands


def test_open_a_qc_case_from_the_worklist_and_mark_a_finding_fixed(signed_in, served):
    page = signed_in("coder1", "/runs/vendor-a")
    page.wait_for_selector("#qc-worklist tbody tr.finding.current")
    key = page.get_attribute("#qc-worklist tbody tr.finding.current", "data-key")
    page.keyboard.press("Enter")
    page.wait_for_selector("#qc-case")
    finding = page.wait_for_selector(f"#case-findings li.finding[data-key='{key}']")
    assert page.query_selector_all(".hl"), "the finding's fields are highlighted"
    assert page.query_selector("#group-before") is not None
    finding.query_selector("button[data-state='fixed']").click()
    page.wait_for_selector(f"#case-findings li.finding[data-key='{key}'][data-status='fixed']")
    page.goto(f"{served}/runs/vendor-a")
    row = page.wait_for_selector(f"#qc-worklist tr.finding[data-key='{key}']")
    assert row.get_attribute("data-status") == "fixed"
