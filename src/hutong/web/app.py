"""The workbench application: one guard in front of everything, then the pages and the API.

The guard is deny-by-default: apart from the login page, the login API and the static
assets, a request without a live session gets 401 (API) or a redirect to the login page, and
a state-changing request (anything but GET/HEAD/OPTIONS) without the session's CSRF token in
the ``X-CSRF-Token`` header gets 403, before any route runs.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from hutong import __version__
from hutong.terminologies.store import Store
from hutong.web.accounts import Accounts
from hutong.web.deps import CSRF_HEADER, HERE, SESSION_COOKIE
from hutong.web.qcstate import QcStates

SAFE = {"GET", "HEAD", "OPTIONS"}
PUBLIC = {"/login", "/api/csrf", "/api/login", "/favicon.ico"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Settings:
    """What ``hutong serve`` is pointed at."""

    store_url: str | None = None  # the mappings' database (default: the user's SQLite store)
    runs: Path | None = None  # a folder of run outputs (``hutong run -o``) for the QC pages
    secure_cookies: bool = False  # mark cookies Secure (serve behind HTTPS)


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/static/")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The workbench over ``settings``' store and runs."""
    settings = settings or Settings()
    app = FastAPI(
        title="hutong workbench / 互通编码工作台",
        version=__version__,
        description="Mapping queue, QC worklist and dashboards. Every operation needs a "
        f"session cookie ({SESSION_COOKIE}); state-changing ones also the session's CSRF "
        f"token in the {CSRF_HEADER} header (POST /api/login returns it).",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: not here
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = Store(settings.store_url)
    app.state.accounts = Accounts(app.state.store)
    app.state.qc_states = QcStates(app.state.store)
    app.state.runs = settings.runs

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        token = request.cookies.get(SESSION_COOKIE)
        session = await run_in_threadpool(app.state.accounts.session, token) if token else None
        request.state.session = session
        if not _public(path):
            if session is None:
                if path.startswith("/api"):
                    return _secure(JSONResponse({"detail": "sign in first / 请先登录"}, 401))
                back = f"{path}?{request.url.query}" if request.url.query else path
                return _secure(RedirectResponse(f"/login?next={quote(back, safe='')}", 303))
            sent = request.headers.get(CSRF_HEADER, "")
            if request.method not in SAFE and not hmac.compare_digest(sent, session.csrf):
                return _secure(
                    JSONResponse({"detail": "missing or wrong CSRF token / CSRF 令牌无效"}, 403)
                )
        return _secure(await call_next(request))

    from hutong.web import auth_routes

    app.include_router(auth_routes.router)
    for name in ("mapping_api", "mapping_pages", "qc_api", "qc_pages", "dashboard"):
        module = _optional(name)
        if module is not None:
            app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app


def _optional(name: str):
    """A router module of the workbench, if this build has it."""
    import importlib

    try:
        return importlib.import_module(f"hutong.web.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"hutong.web.{name}":
            raise
        return None


def _secure(response):
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    return response
