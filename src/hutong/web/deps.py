"""What routes share: the signed-in session, role checks, the store, and page rendering."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates

from hutong.web.accounts import Accounts, Session, User

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
SESSION_COOKIE = "hutong_session"
PRE_COOKIE = "hutong_pre"  # the login form's CSRF token (double submit), before any session
CSRF_HEADER = "X-CSRF-Token"


def session_of(request: Request) -> Session:
    """The request's session (the middleware has refused requests without one)."""
    session = getattr(request.state, "session", None)
    if session is None:  # a route outside the middleware's guard: refuse, never serve
        raise HTTPException(401, "sign in first / 请先登录")
    return session


def user_of(request: Request) -> User:
    return session_of(request).user


def reviewer(request: Request) -> User:
    """The user, if they may decide (approve, reject, bulk approve): reviewers and admins."""
    user = user_of(request)
    if not user.can_approve:
        raise HTTPException(403, "reviewers approve; coders propose / 仅审核员可批准，编码员可提议")
    return user


def admin(request: Request) -> User:
    user = user_of(request)
    if user.role != "admin":
        raise HTTPException(403, "admins only / 仅管理员")
    return user


def accounts_of(request: Request) -> Accounts:
    return request.app.state.accounts


def store_of(request: Request):
    return request.app.state.store


def runs_of(request: Request) -> Path | None:
    """The folder holding run outputs (``hutong run -o``) the QC pages read, if any."""
    return request.app.state.runs


def run_folder_of(request: Request, name: str) -> Path:
    """A run folder by name under the runs folder, else 404 (never a path outside it)."""
    from hutong.web.runs import UnknownRun, run_folder

    try:
        return run_folder(runs_of(request), name)
    except UnknownRun:
        raise HTTPException(404, f"no run {name!r} / 没有该批次") from None


def page(request: Request, name: str, title: str, **context: Any):
    """Render a page with the layout's context (user, CSRF token for the scripts, nav)."""
    session = getattr(request.state, "session", None)
    return templates.TemplateResponse(
        request,
        name,
        {"title": title, "user": session.user if session else None,
         "csrf": session.csrf if session else "", **context},
    )  # fmt: skip


@cache
def dept_names() -> dict[str, str]:
    """科室 code → name (the table the CDA writer uses; names marked unverified there)."""
    text = resources.files("hutong.adapters.cda").joinpath("wst500.toml").read_text("utf-8")
    return dict(tomllib.loads(text).get("departments", {}))
