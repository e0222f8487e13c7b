"""A throw-away marketing system, written the way a new system's sandbox package is: everything it
needs to be served, seeded and saved is declared here, in ``SANDBOX``, and nowhere else.

Tests put this folder on ``campaign_bridge.sandbox.__path__``, which is what adding the package under
``campaign_bridge/sandbox/`` does. Its API: ``GET /v1/people`` and ``POST /v1/people`` (``{"email": …}``),
with ``Authorization: Bearer <token>``; any other token gets a 401.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from typing import Any, Self

from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.demo_company import Company
from campaign_bridge.sandbox.http import Request, Response, Router, SandboxServer
from campaign_bridge.sandbox.saved import FORMAT
from campaign_bridge.sandbox.spec import SandboxSpec


class ToySandbox:
    def __init__(self, port: int = 0) -> None:
        self.token = secrets.token_hex(8)
        self.people: list[str] = []
        self.lock = threading.Lock()
        router = Router()
        router.add("GET", "/v1/people", self._list)
        router.add("POST", "/v1/people", self._add)
        self.server = SandboxServer(self._authorised(router.dispatch), port=port)

    def _authorised(self, handler: Any) -> Any:
        def handle(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Response(401, {"error": "invalid token"})
            result: Response = handler(request)
            return result

        return handle

    def _list(self, request: Request) -> Response:
        with self.lock:
            return Response(200, {"people": list(self.people)})

    def _add(self, request: Request) -> Response:
        with self.lock:
            self.people.append(request.json()["email"])
        return Response(201)

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


def _seed(sandbox: ToySandbox, company: Company, now: datetime) -> None:
    sandbox.people = [rec.person.email for rec in company.ma]


def _load(sandbox: ToySandbox, data: dict[str, Any]) -> None:
    sandbox.token, sandbox.people = data["token"], list(data["people"])


SANDBOX: SandboxSpec[ToySandbox] = SandboxSpec(
    name="toy",
    role=Role.MA,
    build=lambda port, files: ToySandbox(port),
    connection_info=lambda sb, files: {
        "base_url": sb.server.url,
        "auth": {"api_key": {"method": "api_key", "token": sb.token}},
    },
    seed_demo=_seed,
    dump=lambda sb: {"format": FORMAT, "token": sb.token, "people": list(sb.people)},
    load=_load,
)
