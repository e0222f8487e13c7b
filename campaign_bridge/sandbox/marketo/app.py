"""The Marketo emulator's request pipeline: identity endpoint, bearer auth, limits, routing.

Identity (AdobeDocs ``help/rest-api/authentication.md``): ``GET|POST /identity/oauth/token?grant_type=
client_credentials&client_id&client_secret`` answers ``{access_token, token_type: "bearer", expires_in,
scope}``, the same token with its remaining life until it expires; bad credentials are HTTP 401 with
``{"error": "invalid_client", "error_description": "Bad client credentials"}`` (marketorestpython reads
both keys) [U: the exact description]. The token goes in ``Authorization: Bearer``; the ``access_token``
query parameter stopped working on 2026-08-31, so it is refused like a missing token. A missing token is
``600`` "Access token not specified" [U: wording], an unknown one ``601`` "Access token invalid", an
expired one ``602`` "Access token expired"; neither counts against the quota.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.marketo import bulk, bulk_import, routes_leads, routes_programs
from campaign_bridge.sandbox.marketo.state import MarketoState
from campaign_bridge.sandbox.marketo.wire import MAX_BODY, MAX_URI, MarketoError, failed

TOKEN_PATH = "/identity/oauth/token"


class MarketoApp:
    """``(Request) -> Response`` for ``SandboxServer``: one instance's API over ``state``."""

    def __init__(self, state: MarketoState, *, export_allowance: int = bulk.DAILY_EXPORT_BYTES) -> None:
        self.state = state
        self.export_allowance = [export_allowance]
        self.router = Router()
        routes_leads.register(self.router, state)
        routes_programs.register(self.router, state)
        bulk.register(self.router, state, self.export_allowance)
        bulk.register_activities(self.router, state, self.export_allowance)
        self.imports: dict[int, bulk_import.ImportBatch] = {}
        bulk_import.register(self.router, state, self.imports)

    def __call__(self, request: Request) -> Response:
        if request.path == TOKEN_PATH:
            return self._token(request)
        if len(request.path) + len(urlencode(request.query, doseq=True)) + 1 > MAX_URI:
            return Response(414, "<html><body>414 Request-URI Too Large</body></html>", content_type="text/html")
        if len(request.body) > MAX_BODY:
            return Response(413, "<html><body>413 Request Entity Too Large</body></html>", content_type="text/html")
        state = self.state
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        limit = state.limits.enter(state.clock())
        if limit is not None:
            return failed(limit.code, limit.message)
        try:
            with state.lock:
                try:
                    return self.router.dispatch(request)
                except MarketoError as exc:
                    return failed(exc.code, exc.message)
        finally:
            state.limits.leave()

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return failed("600", "Access token not specified")
        with self.state.lock:
            current = self.state.token
            if current is None or token.strip() != current.value:
                return failed("601", "Access token invalid")
            if current.expires <= self.state.clock():
                return failed("602", "Access token expired")
        return None

    def _token(self, request: Request) -> Response:
        values = {k: v[-1] for k, v in request.query.items()}
        if request.method == "POST" and request.body:
            values.update({k: v[-1] for k, v in parse_qs(request.body.decode("utf-8")).items()})
        client = self.state.client
        if (
            values.get("grant_type") != "client_credentials"
            or values.get("client_id") != client["client_id"]
            or values.get("client_secret") != client["client_secret"]
        ):
            body = {"error": "invalid_client", "error_description": "Bad client credentials"}
            return Response(401, json.dumps(body))
        token = self.state.issue_token()
        remaining = max(0, int(token.expires - self.state.clock()))
        return Response(
            200,
            {"access_token": token.value, "token_type": "bearer", "expires_in": remaining, "scope": "apis@sandbox"},
        )
