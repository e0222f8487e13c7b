"""Contract harness for the Marketo connector: the connector (requests on the kit) against the Marketo
sandbox over real HTTP.

The sandbox is seeded and read through ``sb.state`` (no HTTP); only the connector talks HTTP. Time is
driven by hand: the instance's wall clock moves with ``tick``; the sandbox's rate window and the connector's
pacing share one manual monotonic clock, so no test ever sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaign_bridge.connectors.marketo import MarketoConnector, MarketoSettings
from campaign_bridge.connectors.marketo.containers import SMART_PREFIX
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.hubspot.values import ManualClock
from campaign_bridge.sandbox.marketo import MarketoSandbox
from campaign_bridge.testing import Harness

#: Canonical person fields as Marketo lead fields.
LEAD_FIELDS = {"first_name": "firstName", "last_name": "lastName", "company": "company", "score": "leadScore"}


class MarketoHarness(Harness):
    name = "marketo"
    role = Role.MA
    container_key = "list"

    def __init__(
        self, *, per_window: int | None = None, concurrent: int | None = None, daily: int | None = None
    ) -> None:
        self.wall = ManualClock()
        self.pace = ManualClock(start=1000.0)
        self.sb = MarketoSandbox(
            clock=self.wall, monotonic=self.pace, per_window=per_window, concurrent=concurrent, daily=daily
        ).start()
        self._connectors: list[MarketoConnector] = []

    def settings(self, **overrides: Any) -> MarketoSettings:
        auth = {"method": "client_credentials", "client_id": self.sb.client_id, "client_secret": self.sb.client_secret}
        return MarketoSettings(**{"base_url": self.sb.url, "auth": auth, **overrides})

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def connector(self, settings: MarketoSettings | None = None) -> MarketoConnector:
        conn = MarketoConnector(
            "sys", settings or self.settings(), now=self.now, monotonic=self.pace, sleep=self.pace.advance
        )
        self._connectors.append(conn)
        return conn

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        values = {LEAD_FIELDS[k]: v for k, v in fields.items() if k in LEAD_FIELDS and v is not None}
        return RecordRef("sys", "lead", str(self.sb.state.add_lead(email, **values)))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        return str(self.sb.state.add_list(name))

    def add_readonly_container(self, name: str) -> str:
        return f"{SMART_PREFIX}{self.sb.state.add_smart_list(name, {'field': 'leadScore', 'gte': 10**9})}"

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self.sb.state.add_list_members(int(container_id), [int(ref.id)])

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        self.sb.state.remove_list_members(int(container_id), [int(ref.id)])

    def members(self, container_id: str) -> dict[str, str | None]:
        if container_id.startswith(SMART_PREFIX):
            return dict.fromkeys(
                str(i) for i in self.sb.state.smart_list_members(int(container_id[len(SMART_PREFIX) :]))
            )
        return dict.fromkeys(str(i) for i in self.sb.state.lists[int(container_id)].members)

    def tick(self, seconds: float = 1.0) -> None:
        self.wall.advance(seconds)

    def close(self) -> None:
        for conn in self._connectors:
            conn.close()
        self.sb.stop()
