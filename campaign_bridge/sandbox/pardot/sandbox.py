"""``PardotSandbox``: the emulated business unit served over HTTP on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self

from ..http import CONTROL_PREFIX, Request, Response, SandboxServer
from ..salesforce.state import SalesforceState
from .app import PardotApp
from .state import API_USER_ID, UI_USER_ID, Clock, PardotState


class PardotServer(SandboxServer):
    """The shared server plus ``POST /__sandbox/new-day`` (the daily allotment starts again) and
    ``POST /__sandbox/limits`` (``{"on": true|false, "daily": n|null}``) for clients in another process."""

    def __init__(self, app: PardotApp, *, port: int = 0) -> None:
        super().__init__(app, port=port)
        self.pardot = app.state

    def control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :]
        if request.method == "POST" and action == "new-day":
            self.pardot.new_day()
            return Response(204)
        if request.method == "POST" and action == "limits":
            body = request.json() or {}
            daily = body.get("daily", self.pardot.daily_limit)
            if not isinstance(body, dict) or (daily is not None and (not isinstance(daily, int) or daily < 0)):
                return Response(400, {"message": "send {'on': bool, 'daily': a non-negative integer or null}"})
            with self.pardot.lock:
                self.pardot.limits = bool(body.get("on", True))
                self.pardot.daily_limit = daily
            return Response(204)
        return super().control(request)


class PardotSandbox:
    """A local Account Engagement v5 API and the Salesforce login endpoints of its org.

    ``org``: the Salesforce org (``SalesforceState``) whose tokens are accepted; a new one, whose login
    endpoints this server answers, when None (pass a running Salesforce sandbox's ``state`` to accept its
    tokens instead). ``limits`` switches on the daily allotment of ``edition`` and the 5-request cap;
    ``latency`` is the seconds each request takes inside its slot; ``ampsea`` lets prospects share an email.
    """

    def __init__(
        self,
        *,
        org: SalesforceState | None = None,
        limits: bool = False,
        edition: str = "advanced",
        ampsea: bool = True,
        latency: float = 0.0,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        port: int = 0,
    ) -> None:
        self.org = org or SalesforceState()
        self.state = PardotState(clock=clock, ampsea=ampsea, edition=edition, limits=limits)
        # The integration user campaign-bridge logs in as, and a marketer working in the UI, each synced
        # with a Salesforce user of the org (the Salesforce user id of a login names its Pardot user).
        self.state.add_user(API_USER_ID, "integration@campaign-bridge.sandbox", salesforce_id=self.org.user_id)
        self.state.add_user(UI_USER_ID, "marketing@campaign-bridge.sandbox", salesforce_id=self.org.person_id)
        self.app = PardotApp(self.state, self.org, lambda: self.server.url, latency=latency, sleep=sleep)
        self.server = PardotServer(self.app, port=port)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def business_unit_id(self) -> str:
        return self.state.business_unit_id

    def token(self) -> str:
        """A fresh access token of the org (what an OAuth login would give)."""
        return self.org.issue_session()

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
