"""Contract harness for the Account Engagement connector: plain ``requests`` (no v5 client exists) against
the Pardot sandbox over real HTTP, logging in with the OAuth client-credentials flow the sandbox serves.

The sandbox is seeded and read through ``sb.state`` (no HTTP); only the connector talks HTTP. Its wall
clock moves with ``tick``; the connector paces and waits on a manual clock, so no test sleeps.
"""

from __future__ import annotations

from typing import Any

from campaign_bridge.connectors.pardot import PardotConnector, PardotSettings
from campaign_bridge.connectors.pardot.people import kind_of
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.hubspot import ManualClock
from campaign_bridge.sandbox.pardot import PardotSandbox
from campaign_bridge.testing import Harness
from campaign_bridge.testing.harness import FakeClock

#: Canonical person fields as prospect attributes.
FIELDS = {"first_name": "first_name", "last_name": "last_name", "company": "company", "score": "score"}


class PardotHarness(Harness):
    name = "pardot"
    role = Role.MA
    container_key = "list"

    def __init__(self, **sandbox: Any) -> None:
        self.wall = FakeClock()
        self.pace = ManualClock(start=1000.0)
        self.sb = PardotSandbox(clock=self.wall, **sandbox).start()
        self._connectors: list[PardotConnector] = []

    def settings(self, **overrides: Any) -> PardotSettings:
        creds = self.sb.org.credentials
        values: dict[str, Any] = {
            "business_unit_id": self.sb.business_unit_id,
            "base_url": self.sb.url,
            "login_url": self.sb.url,
            "auth": {
                "method": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        }
        return PardotSettings(**{**values, **overrides})

    def connector(self, settings: PardotSettings | None = None) -> PardotConnector:
        conn = PardotConnector(
            "sys", settings or self.settings(), now=self.wall, monotonic=self.pace, sleep=self.pace.advance
        )
        self._connectors.append(conn)
        return conn

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        values = {FIELDS[k]: v for k, v in fields.items() if k in FIELDS and v is not None}
        pid = self.sb.state.add_prospect(email or "", **values)
        return RecordRef("sys", kind_of(self.sb.state.prospects[pid].salesforce_id), str(pid))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        return str(self.sb.state.add_list(name))

    def add_readonly_container(self, name: str) -> str:
        return str(self.sb.state.add_list(name, rule=lambda p: False))

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self.sb.state.add_member(int(container_id), int(ref.id))

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        member = self.sb.state.membership_of(int(container_id), int(ref.id))
        if member is not None:
            self.sb.state.remove_member(member.id)

    def members(self, container_id: str) -> dict[str, str | None]:
        return {str(m.prospect_id): None for m in self.sb.state.members(int(container_id))}

    def tick(self, seconds: float = 1.0) -> None:
        self.wall.tick(seconds)

    def close(self) -> None:
        for conn in self._connectors:
            conn.close()
        self.sb.stop()
