"""The emulator's front door: routes every request, applies Salesforce's session and API-allocation
rules, and shapes every failure as Salesforce does.

* ``/services/Soap/u/{v}`` and ``/services/oauth2/token``: logins; never counted, never limited.
* ``/services/data/`` (version list): public.
* ``/services/data/vXX.X/…``: needs ``Authorization: Bearer <session>`` (else 401 INVALID_SESSION_ID),
  counts one API request (403 REQUEST_LIMIT_EXCEEDED once the daily allocation is spent) and answers
  with ``Sforce-Limit-Info: api-usage=N/MAX``.
* Anything unknown: 404 ``[{"errorCode":"NOT_FOUND",…}]``; every error body is an array.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..http import Request, Response, Router
from .auth import AuthApi
from .bulk import BulkApi
from .composite import CollectionsApi
from .errors import ApiError, invalid_session, not_found
from .rest import RestApi
from .state import SalesforceState

API_VERSIONS = ("57.0", "58.0", "59.0", "60.0", "61.0", "62.0")
_VERSIONED = re.compile(r"^/services/data/v\d+\.\d+(/|$)")


class SalesforceApp:
    """A ``Handler`` for ``SandboxServer``: ``app(request) -> response``."""

    def __init__(self, state: SalesforceState, base_url: Callable[[], str]) -> None:
        self.state = state
        self.router = Router()
        self.router.add("GET", r"/services/data/?", self.versions)
        AuthApi(state, base_url).register(self.router)
        RestApi(state).register(self.router)
        CollectionsApi(state).register(self.router)
        BulkApi(state).register(self.router)

    def __call__(self, request: Request) -> Response:
        versioned = _VERSIONED.match(request.path) is not None
        try:
            if versioned:
                if not self.state.session_valid(_bearer(request.headers.get("authorization"))):
                    raise invalid_session()
                self.state.charge_request()
                with self.state.acting_as(self.state.user_id):  # the integration user's request
                    response = self.router.dispatch(request)
            else:
                response = self.router.dispatch(request)
            if response.status in (404, 405) and isinstance(response.body, dict) and "error" in response.body:
                response = self._unrouted(request, response.status)
        except ApiError as exc:
            response = Response(exc.status, exc.body())
        if versioned and response.status != 401:
            response.headers["Sforce-Limit-Info"] = self.state.limit_info()
        return response

    def versions(self, request: Request) -> Response:
        return Response(200, [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS])

    def _unrouted(self, request: Request, status: int) -> Response:
        if status == 405:
            message = f"HTTP Method '{request.method}' not allowed."
            return Response(405, [{"message": message, "errorCode": "METHOD_NOT_ALLOWED", "fields": []}])
        return Response(404, not_found().body())


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    if header and header[:6].lower() == "oauth ":
        return header[6:].strip()
    return None
