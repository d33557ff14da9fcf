"""The workbench refuses everything without a session, every change without the CSRF token,
and decisions above a user's role; logins are hashed, cookied safely and audited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hutong.cli import app as cli
from hutong.terminologies.store import Store
from hutong.web.accounts import Accounts
from workbench import PASSWORD, app_fixture, login_fixture, workbench_fixture  # noqa: F401

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
OPEN = {"/api/csrf", "/api/login"}


def api_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the API document, path parameters filled with a value."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        if path in OPEN:
            continue
        for method in operations:
            out.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return out


def test_nothing_answers_without_a_session(app):
    client = TestClient(app)
    routes = api_routes(app)
    assert len(routes) >= 15
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
    assert client.get("/api/openapi.json").status_code == 401
    for page in ("/", "/queue", "/runs", "/dashboard", "/admin/users"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_forged_session_cookie_is_refused(app):
    client = TestClient(app, cookies={"hutong_session": "made-up-token"})
    assert client.get("/api/me").status_code == 401


def test_every_change_needs_the_csrf_token(app, login):
    client = login("admin1")
    changes = [(m, p) for m, p in api_routes(app) if m in CHANGES]
    assert changes, "the API has state-changing routes"
    for method, path in changes:
        for token in (None, "wrong-token"):
            headers = {"X-CSRF-Token": token} if token else {}
            client.headers.pop("X-CSRF-Token", None)
            response = client.request(method, path, json={}, headers=headers)
            assert response.status_code == 403, (method, path, token, response.status_code)
    client.headers["X-CSRF-Token"] = client.csrf
    assert client.post("/api/logout").status_code == 204  # the right token works


def test_login_needs_its_own_csrf_token_and_the_right_password(app, workbench):
    client = TestClient(app)
    body = {"username": "rev1", "password": PASSWORD}
    assert client.post("/api/login", json=body).status_code == 403  # no pre-login token
    pre = client.get("/api/csrf").json()["csrf"]
    wrong = client.post("/api/login", json={**body, "password": "nope-nope"},
                        headers={"X-CSRF-Token": pre})  # fmt: skip
    assert wrong.status_code == 401
    ghost = client.post("/api/login", json={**body, "username": "ghost"},
                        headers={"X-CSRF-Token": pre})  # fmt: skip
    assert ghost.status_code == 401
    good = client.post("/api/login", json=body, headers={"X-CSRF-Token": pre})
    assert good.status_code == 200 and good.json()["role"] == "reviewer"
    cookie = good.headers["set-cookie"].lower()
    assert "hutong_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    with Store(workbench.url) as store:
        audit = Accounts(store).audit()
    assert [a["outcome"] for a in audit[:3]] == ["ok", "unknown_user", "bad_password"]
    assert audit[0]["username"] == "rev1"


def test_login_form_refuses_a_missing_token_and_open_redirects(app):
    client = TestClient(app)
    form = {"username": "rev1", "password": PASSWORD, "next": "//evil.example/x"}
    assert client.post("/login", data={**form, "csrf": "x"}).status_code == 403
    page = client.get("/login?next=/runs")
    pre = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/login", data={**form, "csrf": pre}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/queue"
    assert client.get("/api/me").json()["username"] == "rev1"


def test_passwords_are_stored_hashed(workbench):
    with Store(workbench.url) as store, store._read() as conn:
        hashes = [r[0] for r in conn.exec_driver_sql("SELECT password_hash FROM app_user")]
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_only_admins_manage_users(login):
    coder, admin = login("coder1"), login("admin1")
    assert coder.get("/api/users").status_code == 403
    assert coder.get("/api/login-audit").status_code == 403
    added = admin.post("/api/users", json={"username": "coder3", "password": "long enough 1"})
    assert added.status_code == 201 and added.json()["role"] == "coder"
    again = admin.post("/api/users", json={"username": "coder3", "password": "long enough 1"})
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    assert "coder3" in [u["username"] for u in admin.get("/api/users").json()]


def test_security_headers_forbid_outside_assets(login):
    response = login("coder1").get("/api/me")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_pages_load_nothing_from_the_internet(login):
    client = login("coder1")
    for page in ("/queue", "/runs", "/dashboard"):
        html = client.get(page).text
        assert not re.search(r'(src|href)="(https?:)?//', html), page


def test_user_add_cli_and_serve_refuses_an_empty_store(tmp_path):
    url = f"sqlite:///{(tmp_path / 's.db').as_posix()}"
    runner = CliRunner()
    refused = runner.invoke(cli, ["serve", "--db", url])
    assert refused.exit_code == 2 and "hutong user add" in refused.output
    command = ["user", "add", "zhang", "--role", "reviewer", "--name", "张三", "--password-stdin"]
    added = runner.invoke(cli, [*command, "--db", url], input="a good password\n")
    assert added.exit_code == 0, added.output
    short = runner.invoke(cli, ["user", "add", "li", "--password-stdin", "--db", url], input="x\n")
    assert short.exit_code == 2 and "8" in short.output
    listed = runner.invoke(cli, ["user", "list", "--db", url])
    assert "zhang\treviewer\t张三" in listed.output


def test_after_sign_in_the_page_asked_for_opens_with_its_query(app):
    client = TestClient(app)
    first = client.get("/runs/vendor-a?severity=warning", follow_redirects=False)
    assert first.headers["location"] == "/login?next=%2Fruns%2Fvendor-a%3Fseverity%3Dwarning"
    page = client.get(first.headers["location"])
    pre = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    target = re.search(r'name="next" value="([^"]+)"', page.text).group(1)
    form = {"username": "rev1", "password": PASSWORD, "csrf": pre, "next": target}
    done = client.post("/login", data=form, follow_redirects=False)
    assert done.headers["location"] == "/runs/vendor-a?severity=warning"
