"""The web plumbing every page shares: templates, the login check, roles, CSRF and the audit log.

A page is a plain function ``(Ctx) -> Response`` wrapped by ``page(role)`` or ``change(role)``. The
wrapper finds who is asking (session cookie, or the reverse proxy's header when trusted), sends a stranger
to the login page, refuses a role too low (403, saying which role it needs), and for a change also
refuses a POST without the session's CSRF token (403) before the function runs. The function runs in
a worker thread (the state store blocks).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from campaign_bridge.console.auth import COOKIE, SESSION_HOURS, Role, Viewer, session_viewer, start_session
from campaign_bridge.console.state import Console, utcnow

templates = Environment(
    loader=PackageLoader("campaign_bridge.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class Refused(Exception):
    """Bad input: nothing was changed; ``message`` says why (shown with ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Ctx:
    """One request as a page sees it."""

    request: Request
    console: Console
    viewer: Viewer
    form: FormData | None

    def arg(self, name: str, default: str = "") -> str:
        return str(self.request.query_params.get(name, default)).strip()

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default) if self.form is not None else default
        return value.strip() if isinstance(value, str) else default

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status=status, viewer=self.viewer, console=self.console, **values)

    def audit(self, action: str, target: str, detail: str, client: str | None = None) -> None:
        self.console.store.audit(
            utcnow(), self.viewer.name, self.viewer.role.label, action, target, detail, client=client
        )


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(template).render(request=request, **values)
    return HTMLResponse(html, status_code=status)


def who(request: Request, console: Console) -> tuple[Viewer | None, str | None]:
    """The person asking, and a new session cookie to set (reverse-proxy logins only)."""
    cookie = request.cookies.get(COOKIE)
    viewer = session_viewer(console.store, cookie)
    header = request.app.state.auth.header
    if header is None:
        return viewer, None
    proxied = request.headers.get(header, "").strip()
    if not proxied:
        return viewer, None
    if viewer is not None and viewer.name == proxied:
        return viewer, None
    user = console.store.user(proxied)
    role = Role.named(user.role) if user else Role.VIEWER
    new = start_session(console.store, proxied, role)
    return session_viewer(console.store, new), new


def set_session_cookie(response: Response, request: Request, cookie: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


Handler = Callable[[Ctx], Response]


def _wrap(role: Role, handler: Handler, *, is_change: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        viewer, new_cookie = await run_in_threadpool(who, request, console)
        if viewer is None:
            if request.method != "GET":
                return render(request, "refused.html", 401, viewer=None, message="log in first")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        form = await request.form() if request.method == "POST" else None
        if not viewer.may(role):
            response: Response = render(
                request,
                "refused.html",
                403,
                viewer=viewer,
                console=console,
                message=f"this needs the {role.label} role; you are {viewer.name} ({viewer.role.label})",
            )
        elif is_change and not hmac.compare_digest(str(form.get("csrf", "") if form else ""), viewer.csrf):
            response = render(
                request,
                "refused.html",
                403,
                viewer=viewer,
                console=console,
                message="this form is stale or did not come from this console (CSRF check failed); nothing was changed. Reload the page and try again.",
            )
        else:
            ctx = Ctx(request, console, viewer, form)
            try:
                response = await run_in_threadpool(handler, ctx)
            except Refused as exc:
                response = ctx.render("refused.html", exc.status, message=exc.message)
            except LookupError as exc:
                response = ctx.render("refused.html", 404, message=str(exc.args[0]) if exc.args else str(exc))
        if new_cookie is not None:
            set_session_cookie(response, request, new_cookie)
        return response

    return endpoint


def page(role: Role = Role.VIEWER) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A page that reads: any logged-in user of at least ``role``."""
    return lambda handler: _wrap(role, handler, is_change=False)


def change(role: Role) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A change (POST): ``role`` at least, and the session's CSRF token."""
    return lambda handler: _wrap(role, handler, is_change=True)
