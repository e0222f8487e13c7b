"""Both sandboxes, started once and reset between scenarios, plus the chaos they can be told to cause.

``Bench`` serves the Salesforce emulator (HTTPS, generated CA) and the HubSpot emulator (HTTP) on
loopback for many scenarios: ``reset()`` gives each scenario an empty org and portal on the running
servers. One fake wall clock drives both emulators and the engine; one manual monotonic clock drives
HubSpot's rate-limit windows and the connectors' pacing and retry waits, so nothing here sleeps on
purpose. ``Chaos`` sits in front of each emulator's app and causes what the shared ``Faults`` cannot:
an expired session in the middle of a run and Collections calls where some records fail.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.sandbox.http import Handler, Request, Response
from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sandbox.salesforce.app import SalesforceApp
from campaign_bridge.sandbox.salesforce.state import SalesforceState
from tests.contract.harness_memory import FakeClock

#: What a retryable per-record failure looks like in a Collections answer.
LOCKED_ROW = {
    "id": None,
    "success": False,
    "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access", "fields": []}],
}


class WallClock(FakeClock):
    """The real wall clock, where a ``FakeClock`` is expected; ``tick`` does nothing. ``offset`` moves it
    (a scenario that needs a record made a day ago)."""

    offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def tick(self, seconds: float = 1.0) -> None:
        pass


@dataclass
class Chaos:
    """Middleware in front of an emulator's app. ``expire_at``: the request (counted from the last
    ``arm``) before which every session or token expires; ``lock_rate``: the share of Collections
    records answered UNABLE_TO_LOCK_ROW (and not applied)."""

    inner: Handler
    expire: Callable[[], None]
    rng: random.Random = field(default_factory=random.Random)
    expire_at: int | None = None
    lock_rate: float = 0.0
    seen: int = 0
    injected: dict[str, int] = field(default_factory=lambda: {"session_expired": 0, "record_locked": 0})

    def arm(self, rng: random.Random, *, expire_at: int | None, lock_rate: float) -> None:
        self.rng, self.expire_at, self.lock_rate, self.seen = rng, expire_at, lock_rate, 0

    def __call__(self, request: Request) -> Response:
        self.seen += 1
        if self.expire_at is not None and self.seen == self.expire_at:
            self.expire()
            self.injected["session_expired"] += 1
        if self.lock_rate and request.path.endswith("/composite/sobjects") and request.method == "POST":
            return self._partial(request)
        return self.inner(request)

    def _partial(self, request: Request) -> Response:
        body = request.json() or {}
        records = body.get("records") or []
        locked = [self.rng.random() < self.lock_rate for _ in records]
        if not any(locked):
            return self.inner(request)
        self.injected["record_locked"] += sum(locked)
        kept = [r for r, skip in zip(records, locked, strict=True) if not skip]
        results: list[Any] = []
        if kept:
            sent = dataclasses.replace(request, body=json.dumps({**body, "records": kept}).encode())
            answer = self.inner(sent)
            if answer.status != 200:
                return answer
            results = list(json.loads(answer.encoded()))
        out = iter(results)
        return Response(200, [LOCKED_ROW if skip else next(out) for skip in locked])


class Bench:
    """The two running sandboxes and what a scenario needs to drive them."""

    SECRETS = ("SF_CLIENT_ID", "SF_CLIENT_SECRET", "HS_TOKEN", "HS_CLIENT_SECRET", "HS_REFRESH_TOKEN")

    def __init__(self, tmp: Path, *, wall_clock: bool = False) -> None:
        self.tmp = tmp
        # The kill soak's sync processes read the real wall clock (their watermarks come from it), so
        # there the emulators' modification stamps must come from it too.
        self.clock: FakeClock = WallClock() if wall_clock else FakeClock()
        self.pace = ManualClock(start=1000.0)
        self.sf = SalesforceSandbox(clock=self.clock).start()
        self.hs = HubSpotSandbox(clock=self._wall, monotonic=self.pace, search_per_second=None).start()
        self.sf_chaos = Chaos(self.sf.server.app, self.sf.state.expire_sessions)
        self.sf.server.app = self.sf_chaos
        self.hs_chaos = Chaos(self.hs.server.app, self.hs.state.expire_tokens)
        self.hs.server.app = self.hs_chaos
        for server in (self.sf.server, self.hs.server):
            # A client that timed out or dropped its connection makes the server's reply fail: expected
            # here, so not printed.
            server._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.waits: list[float] = []
        self._configs: dict[str, ClientConfig] = {}

    def _wall(self) -> float:
        return self.clock().timestamp()

    def reset(self) -> None:
        """An empty org and portal on the running servers; faults, logs and chaos cleared."""
        sb = self.sf
        state = SalesforceState(clock=self.clock)
        state.credentials = sb.state.credentials
        sb.state = sb.server.state = state
        sb.app = SalesforceApp(state, lambda: sb.instance_url)
        sb._session_id = None
        self.sf_chaos = Chaos(sb.app, state.expire_sessions)
        sb.server.app = self.sf_chaos
        sb.server.reset_log()
        sb.server.faults.configure()
        self.hs.reset(clock=self._wall, monotonic=self.pace)
        self.hs.state.set_limits(search_per_second=1000)
        self.hs_chaos = Chaos(self.hs.server.app, self.hs.state.expire_tokens)
        self.hs.server.app = self.hs_chaos
        self.waits.clear()
        self._configs.clear()

    def close(self) -> None:
        self.sf.stop()
        self.hs.stop()

    # -- configuration ---------------------------------------------------------------------------
    def environ(self) -> dict[str, str]:
        creds = self.sf.credentials
        return {
            "SF_CLIENT_ID": creds["client_id"],
            "SF_CLIENT_SECRET": creds["client_secret"],
            "HS_TOKEN": self.hs.token,
            "HS_CLIENT_ID": self.hs.oauth["client_id"],
            "HS_CLIENT_SECRET": self.hs.oauth["client_secret"],
            "HS_REFRESH_TOKEN": self.hs.oauth["refresh_token"],
        }

    def connections_yaml(
        self,
        *,
        hs_oauth: bool = False,
        budget: int | None = None,
        timeout: float = 5.0,
        bulk_threshold: int | None = None,
    ) -> str:
        extra = f", api_budget: {budget}" if budget else ""
        sf_extra = f", bulk_threshold: {bulk_threshold}" if bulk_threshold else ""
        hs_auth = (
            '{method: oauth, client_id: "${HS_CLIENT_ID}", client_secret: "${HS_CLIENT_SECRET}", '
            'refresh_token: "${HS_REFRESH_TOKEN}"}'
            if hs_oauth
            else '{method: private_app, token: "${HS_TOKEN}"}'
        )
        sf_auth = '{method: client_credentials, client_id: "${SF_CLIENT_ID}", client_secret: "${SF_CLIENT_SECRET}"}'
        sf = self.sf.instance_url
        return (
            "connections:\n"
            f"  sf: {{type: salesforce, instance_url: {sf}, login_url: {sf}, ca_bundle: {json.dumps(str(self.sf.ca_bundle))}, "
            f"timeout: {timeout}{extra}{sf_extra}, auth: {sf_auth}}}\n"
            f'  hs: {{type: hubspot, base_url: "{self.hs.url}", timeout: {timeout}{extra}, auth: {hs_auth}}}\n'
        )

    def config(self, rules: str, state_url: str, **connections: Any) -> ClientConfig:
        text = f"client: soak\nstate: {json.dumps(state_url)}\n{self.connections_yaml(**connections)}rules:\n{rules}"
        if text not in self._configs:
            self._configs[text] = load_config_text(text, "soak.yaml", self.environ())
        return self._configs[text]

    def connectors(self, config: ClientConfig, *, attempts: int = 4) -> dict[str, Connector]:
        """The real connectors, retrying without sleeping: every wait is recorded (and moves the pacing
        clock) instead."""

        def sleep(seconds: float) -> None:
            self.waits.append(seconds)
            self.pace.advance(seconds)

        policy = CallPolicy(attempts=attempts, sleep=sleep)
        out: dict[str, Connector] = {}
        for name, settings in config.connections.items():
            if isinstance(settings, SalesforceSettings):
                out[name] = SalesforceConnector(name, settings, policy=policy, clock=self.clock, bulk_poll_seconds=0)
            else:
                assert isinstance(settings, HubSpotSettings)
                out[name] = HubSpotConnector(
                    name, settings, policy=policy, now=self.clock, monotonic=self.pace, sleep=sleep
                )
        return out
