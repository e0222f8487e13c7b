"""``SalesforceSandbox``: the emulated org served over HTTPS on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from ..http import CONTROL_PREFIX, Request, Response, SandboxServer, TlsFiles, make_tls
from .app import SalesforceApp
from .state import SalesforceState
from .store import Clock
from .transport import sandbox_session


class SalesforceServer(SandboxServer):
    """The shared server plus Salesforce control actions for clients in another process:
    ``POST /__sandbox/expire-sessions``, ``POST /__sandbox/daily-limit`` (``{"limit": n | null}``) and
    ``POST /__sandbox/reset-usage``. Like every control action they are never logged nor faulted."""

    def __init__(self, app: SalesforceApp, state: SalesforceState, *, tls: TlsFiles, port: int = 0) -> None:
        super().__init__(app, tls=tls, port=port)
        self.state = state

    def control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :]
        if request.method == "POST" and action == "expire-sessions":
            self.state.expire_sessions()
            return Response(204)
        if request.method == "POST" and action == "reset-usage":
            self.state.reset_usage()
            return Response(204)
        if request.method == "POST" and action == "daily-limit":
            try:
                limit = (request.json() or {}).get("limit")
            except (ValueError, AttributeError):
                limit = "invalid"
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                return Response(400, {"message": "limit must be a non-negative integer or null"})
            self.state.set_daily_limit(limit)
            return Response(204)
        return super().control(request)


class SalesforceSandbox:
    """A local Salesforce REST/SOAP-login/Bulk 2.0 API for the unmodified simple-salesforce client.

    ``daily_limit`` is the org's daily API allocation (None: unlimited); ``tls`` the certificate files
    to serve with (a throw-away CA is generated when None); ``clock`` stamps record changes; ``port`` the
    loopback port to listen on (0: a free one; ``OSError`` when a given one is taken).

    Direct session::

        Salesforce(instance_url=sb.instance_url, session_id=sb.credentials["session_id"],
                   session=sb.requests_session())

    Login flows (SOAP, OAuth password, client credentials, JWT) use ``session=sb.requests_session()``,
    which routes ``https://login.salesforce.com`` and every ``*.salesforce.com`` host to the sandbox.
    """

    def __init__(
        self,
        daily_limit: int | None = None,
        *,
        tls: TlsFiles | None = None,
        clock: Clock | None = None,
        port: int = 0,
    ) -> None:
        self.state = SalesforceState(daily_limit=daily_limit, clock=clock)
        self.tls = tls or make_tls()
        self.app = SalesforceApp(self.state, lambda: self.instance_url)
        self.server = SalesforceServer(self.app, self.state, tls=self.tls, port=port)
        self._session_id: str | None = None

    def start(self) -> SalesforceSandbox:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> SalesforceSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def instance_url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def ca_bundle(self) -> Path:
        """The PEM of the CA that signed the sandbox certificate; clients must trust it."""
        return self.tls.ca_bundle

    @property
    def credentials(self) -> dict[str, str]:
        """Everything a client needs to log in, plus ``session_id``: a currently valid session (a new
        one is issued after ``state.expire_sessions()``)."""
        if self._session_id is None or not self.state.session_valid(self._session_id):
            self._session_id = self.state.issue_session()
        c = self.state.credentials
        return {
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password,
            "security_token": c.security_token,
            "jwt_private_key_pem": c.jwt_private_key_pem,
            "session_id": self._session_id,
        }

    def requests_session(self) -> requests.Session:
        """A ``requests.Session`` trusting the sandbox CA and routing ``*.salesforce.com`` to the sandbox."""
        return sandbox_session(self.instance_url, self.ca_bundle)

    def client(self, **kwargs: Any) -> Any:
        """A simple-salesforce ``Salesforce`` on a fresh direct session (handy in tests and demos)."""
        from simple_salesforce.api import Salesforce

        return Salesforce(
            instance_url=self.instance_url,
            session_id=self.credentials["session_id"],
            session=self.requests_session(),
            **kwargs,
        )
