"""Signing in and out (page and API), the current user, and the admins' user list."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hutong.web.accounts import ROLES, AccountError, Accounts, Session, User
from hutong.web.deps import (
    CSRF_HEADER,
    PRE_COOKIE,
    SESSION_COOKIE,
    accounts_of,
    admin,
    page,
    session_of,
    templates,
    user_of,
)

router = APIRouter()


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    display_name: str = ""
    can_approve: bool
    csrf: str = Field(description=f"send it back in the {CSRF_HEADER} header")


class NewUser(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,64}$")
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field("coder", pattern="^(coder|reviewer|admin)$")
    display_name: str = Field("", max_length=100)


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str = ""


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _cookie(request: Request, response: Response, name: str, value: str, hours: int) -> None:
    response.set_cookie(
        name, value, max_age=hours * 3600, httponly=True, samesite="strict", path="/",
        secure=request.app.state.settings.secure_cookies,
    )  # fmt: skip


def _me(session: Session) -> Me:
    u = session.user
    return Me(username=u.username, role=u.role, display_name=u.display_name,
              can_approve=u.can_approve, csrf=session.csrf)  # fmt: skip


def _next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or a full URL) to go to after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None):
    # the token of an earlier visit is kept: a second tab or a stray request for another
    # page must not invalidate the form already on screen
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html", {"title": "登录 Sign in", "pre": pre, "next": _next(next),
                                "user": None, "csrf": "", "error": None},
    )  # fmt: skip
    _cookie(request, response, PRE_COOKIE, pre, 1)
    return response


@router.post("/login", include_in_schema=False)
def login_form(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/queue",
):
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not hmac.compare_digest(pre, csrf):
        raise HTTPException(403, "missing or wrong CSRF token / CSRF 令牌无效")
    session = accounts_of(request).login(username, password, _client(request))
    if session is None:
        response = templates.TemplateResponse(
            request, "login.html",
            {"title": "登录 Sign in", "pre": pre, "next": _next(next), "user": None, "csrf": "",
             "error": "wrong user name or password / 用户名或密码错误"},
            status_code=401,
        )  # fmt: skip
        return response
    response = RedirectResponse(_next(next), 303)
    _cookie(request, response, SESSION_COOKIE, session.token, 12)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.get("/", include_in_schema=False)
def home():
    return RedirectResponse("/queue", 303)


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    return RedirectResponse("/static/favicon.svg", 301)


@router.get("/api/csrf", tags=["session"])
def pre_login_token(request: Request) -> dict[str, str]:
    """A token for ``POST /api/login`` (also set as a cookie: both must match)."""
    pre = secrets.token_urlsafe(24)
    response = JSONResponse({"csrf": pre})
    _cookie(request, response, PRE_COOKIE, pre, 1)
    return response


@router.post("/api/login", tags=["session"], response_model=Me, responses={401: {}, 403: {}})
def api_login(request: Request, body: Credentials):
    """Sign in: needs the token of ``GET /api/csrf`` in the X-CSRF-Token header."""
    pre = request.cookies.get(PRE_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not pre or not hmac.compare_digest(pre, sent):
        raise HTTPException(403, "missing or wrong CSRF token / CSRF 令牌无效")
    session = accounts_of(request).login(body.username, body.password, _client(request))
    if session is None:
        raise HTTPException(401, "wrong user name or password / 用户名或密码错误")
    response = JSONResponse(_me(session).model_dump())
    _cookie(request, response, SESSION_COOKIE, session.token, 12)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/api/logout", tags=["session"], status_code=204)
def api_logout(request: Request, session: Annotated[Session, Depends(session_of)]):
    accounts_of(request).logout(session, _client(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/me", tags=["session"], response_model=Me)
def me(session: Annotated[Session, Depends(session_of)]) -> Me:
    return _me(session)


@router.get("/api/users", tags=["admin"], response_model=list[UserOut])
def list_users(request: Request, _: Annotated[User, Depends(admin)]):
    return [UserOut(username=u.username, role=u.role, display_name=u.display_name)
            for u in accounts_of(request).users()]  # fmt: skip


@router.post("/api/users", tags=["admin"], response_model=UserOut, status_code=201,
             responses={409: {"description": "the user name is taken"}})  # fmt: skip
def add_user(request: Request, body: NewUser, _: Annotated[User, Depends(admin)]):
    try:
        u = accounts_of(request).add_user(
            body.username, body.password, body.role, body.display_name
        )
    except AccountError as exc:  # the model checked name, password and role: a taken name
        raise HTTPException(409, str(exc)) from exc
    return UserOut(username=u.username, role=u.role, display_name=u.display_name)


@router.get("/api/login-audit", tags=["admin"])
def login_audit(request: Request, _: Annotated[User, Depends(admin)]) -> list[dict]:
    """The latest login attempts and logouts (who, when, outcome, client), newest first."""
    return accounts_of(request).audit()


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request, _: Annotated[User, Depends(admin)]):
    accounts: Accounts = accounts_of(request)
    return page(request, "users.html", "用户 Users", users=accounts.users(), roles=ROLES,
                audit=accounts.audit(50))  # fmt: skip


__all__ = ["router", "user_of"]
