"""The HubSpot emulator's request pipeline: OAuth token endpoint, bearer auth, rate limits, routing.

Auth bodies: an unknown or missing token gets 401 ``INVALID_AUTHENTICATION`` with HubSpot's "Authentication
credentials not found" message [T]; an expired one 401 ``EXPIRED_AUTHENTICATION`` with "The OAuth token used
to make this call expired N second(s) ago." and ``context["expire time"]`` [T]. ``POST /oauth/v1/token``
(form-encoded ``grant_type=refresh_token``) issues a fresh 30-minute token [U: shape from HubSpot's docs];
refusals use HubSpot's OAuth error form ``{"status":"BAD_REFRESH_TOKEN"|"BAD_CLIENT_ID"|...}`` [U].
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from campaign_bridge.sandbox.http import Request, Response, Router
from campaign_bridge.sandbox.hubspot import routes_contacts, routes_lists
from campaign_bridge.sandbox.hubspot.errors import HubSpotError, bad_json, correlation_id, envelope
from campaign_bridge.sandbox.hubspot.state import OAUTH_TOKEN_SECONDS, HubSpotState
from campaign_bridge.sandbox.hubspot.token_info import PRIVATE_APP_TOKEN_INFO, private_app_token_info
from campaign_bridge.sandbox.hubspot.values import iso_ms

TOKEN_PATH = "/oauth/v1/token"
ACCESS_TOKEN_INFO = "/oauth/v1/access-tokens/"
INVALID_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


class HubSpotApp:
    """``(Request) -> Response`` for ``SandboxServer``: one portal's API over ``state``."""

    def __init__(self, state: HubSpotState) -> None:
        self.state = state
        self.router = Router()
        routes_contacts.register(self.router, state)
        routes_lists.register(self.router, state)

    def __call__(self, request: Request) -> Response:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._oauth_token(request)
        if request.path.startswith(ACCESS_TOKEN_INFO) and request.method == "GET":
            return self._token_info(request.path[len(ACCESS_TOKEN_INFO) :])
        if request.path == PRIVATE_APP_TOKEN_INFO and request.method == "POST":
            return private_app_token_info(self.state, request)
        state = self.state
        with state.lock:
            token = self._authenticate(request)
        if isinstance(token, Response):
            return token
        kind = state.tokens[token].kind
        search = (
            request.method == "POST"
            and request.path.startswith("/crm/v3/objects/")
            and request.path.endswith("/search")
        )
        verdict = state.limits.check(token, oauth=kind == "oauth", search=search, wall_seconds=state.clock())
        if verdict.refusal is not None:
            return verdict.refusal
        with state.lock:
            try:
                response = self.router.dispatch(request)
            except HubSpotError as exc:
                response = exc.response()
            except json.JSONDecodeError as exc:
                response = bad_json(str(exc)).response()
        response.headers.update(verdict.headers)
        return response

    def _authenticate(self, request: Request) -> str | Response:
        """The caller's valid token, or the 401 to answer."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        known = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if known is None:
            return Response(401, envelope(INVALID_AUTH_MESSAGE, "INVALID_AUTHENTICATION"))
        now = self.state.now_ms()
        if known.expires_ms is not None and known.expires_ms <= now:
            ago = (now - known.expires_ms) // 1000
            amount = f"{ago // 86_400} day(s)" if ago >= 86_400 else f"{ago} second(s)"
            body = envelope(
                f"The OAuth token used to make this call expired {amount} ago.",
                "EXPIRED_AUTHENTICATION",
                context={"expire time": [iso_ms(known.expires_ms)]},
            )
            return Response(401, body)
        return token.strip()

    def _oauth_token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        state = self.state
        with state.lock:
            if form.get("grant_type") != "refresh_token":
                return _oauth_error("BAD_GRANT_TYPE", "grant_type must be refresh_token in this sandbox")
            if form.get("client_id") != state.oauth_client["client_id"]:
                return _oauth_error("BAD_CLIENT_ID", "missing or invalid client_id")
            if form.get("client_secret") != state.oauth_client["client_secret"]:
                return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret")
            refresh = form.get("refresh_token", "")
            if refresh not in state.refresh_tokens:
                return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            access = state.issue_token("oauth")
        body = {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": OAUTH_TOKEN_SECONDS,
        }
        return Response(200, body)

    def _token_info(self, token: str) -> Response:
        with self.state.lock:
            known = self.state.tokens.get(token)
            if known is None or known.kind != "oauth" or known.expires_ms is None:
                return Response(404, envelope("Token not found", "OBJECT_NOT_FOUND"))
            remaining = max(0, (known.expires_ms - self.state.now_ms()) // 1000)
        body: dict[str, Any] = {
            "token": token,
            "hub_id": self.state.limits.portal_id,
            "app_id": self.state.limits.app_id,
            "expires_in": remaining,
            "token_type": "access",
            "scopes": ["oauth", *self.state.scopes],
        }
        return Response(200, body)


def _oauth_error(status: str, message: str) -> Response:
    return Response(400, {"status": status, "message": message, "correlationId": correlation_id()})
