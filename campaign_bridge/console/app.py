"""The console's ASGI app: its routes, the login and logout pages, static files.

``console_app`` builds it over a ``Console``; ``service/http.py`` mounts it next to ``/healthz`` and
``/metrics`` for ``serve``, and ``campaign-bridge ui`` serves it alone.
"""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaign_bridge.console import actions, pages
from campaign_bridge.console.auth import (
    COOKIE,
    TOKEN_USER,
    AuthSettings,
    LoginThrottle,
    Role,
    check_password,
    check_token,
    csrf_token,
    start_session,
    token_hash,
)
from campaign_bridge.console.state import Console, utcnow
from campaign_bridge.console.web import render, set_session_cookie

#: Security headers on every console page: no framing (clickjacking), no inline script from elsewhere.
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Adds ``HEADERS`` to every response of the app (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in HEADERS.items():
                    if key not in headers:
                        headers[key] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def _safe_next(target: str) -> str:
    """Only a path of this site (never another host) is followed after logging in."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_page(request: Request) -> Response:
    auth: AuthSettings = request.app.state.auth
    return render(
        request,
        "login.html",
        viewer=None,
        next=_safe_next(request.query_params.get("next", "/")),
        token_login=auth.token is not None,
        error=None,
    )


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    auth: AuthSettings = request.app.state.auth
    form = await request.form()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    token = str(form.get("token", ""))
    target = _safe_next(str(form.get("next", "/")))
    throttle: LoginThrottle = request.app.state.throttle
    address = request.client.host if request.client else "?"
    wait = throttle.wait(address)
    if wait:
        await run_in_threadpool(
            console.store.audit, utcnow(), name or "?", "-", "login_refused", address, "too many failed logins"
        )
        return render(
            request,
            "login.html",
            429,
            viewer=None,
            next=target,
            token_login=auth.token is not None,
            error=f"too many failed logins from this address: try again in {-(-wait // 60)} minutes",
        )
    role: Role | None = None
    if token:
        if check_token(auth, token):
            name, role = TOKEN_USER, Role.ADMIN
    elif name and password:
        user = await run_in_threadpool(check_password, console.store, name, password)
        if user is not None:
            role = Role.named(user.role)
    if role is None:
        throttle.failed(address)
        await run_in_threadpool(
            console.store.audit, utcnow(), name or "?", "-", "login_failed", "", "wrong name, password or token"
        )
        return render(
            request,
            "login.html",
            401,
            viewer=None,
            next=target,
            token_login=auth.token is not None,
            error="wrong name, password or token",
        )
    cookie = await run_in_threadpool(start_session, console.store, name, role)
    await run_in_threadpool(console.store.audit, utcnow(), name, role.label, "login", "", "logged in")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, cookie)
    return response


async def logout(request: Request) -> Response:
    console: Console = request.app.state.console
    cookie = request.cookies.get(COOKIE)
    form = await request.form()
    if cookie and str(form.get("csrf", "")) == csrf_token(cookie):
        await run_in_threadpool(console.store.end_session, token_hash(cookie))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def console_routes() -> list[BaseRoute]:
    rule = "/c/{client}/r/{rule}"
    return [
        Route("/", pages.overview),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/conflicts", pages.conflicts),
        Route("/conflicts.csv", pages.conflicts_csv),
        Route("/explain", pages.explain_page),
        Route("/audit", pages.audit_page),
        Route("/c/{client}/reconcile", pages.reconcile_page),
        Route("/c/{client}/dead", pages.dead_letters),
        Route("/c/{client}/file", actions.file_page, methods=["GET"]),
        Route("/c/{client}/file", actions.file_save, methods=["POST"]),
        Route(rule, pages.rule_page),
        Route(rule + "/progress", pages.progress),
        Route(rule + "/run", actions.run_now, methods=["POST"]),
        Route(rule + "/preview", actions.preview, methods=["POST"]),
        Route(rule + "/approve", actions.approve, methods=["POST"]),
        Route(rule + "/discard", actions.discard, methods=["POST"]),
        Route(rule + "/retry", actions.retry, methods=["POST"]),
        Route(rule + "/reconcile", actions.reconcile, methods=["POST"]),
        Route(rule + "/repair", pages.repair_confirm, methods=["GET"]),
        Route(rule + "/repair", actions.repair, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("campaign_bridge.console", "static")]), name="static"),
    ]


def console_app(console: Console, auth: AuthSettings, extra: list[BaseRoute] | None = None) -> Starlette:
    """The console over ``console`` (with ``extra`` routes first: ``/healthz``, ``/metrics``)."""
    app = Starlette(routes=[*(extra or []), *console_routes()], middleware=[Middleware(SecurityHeaders)])
    app.state.console = console
    app.state.auth = auth
    app.state.throttle = LoginThrottle()

    return app
