"""Contract harness for the HubSpot connector: the real hubspot-api-client against the HubSpot sandbox.

The sandbox is seeded and read through ``sb.state`` (no HTTP); only the connector talks HTTP. Time is
driven by hand: the portal's wall clock moves with ``tick``, and the connector paces on its own manual
clock, so no test ever sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.hubspot.search import PROPERTIES
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock
from campaign_bridge.testing import Harness


def hubspot_properties(fields: dict[str, Any]) -> dict[str, Any]:
    """Canonical person fields as HubSpot contact properties (``hard_bounced`` as a bounce reason)."""
    props: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "hard_bounced":
            if value:
                props[PROPERTIES[name]] = "BAD_MAILBOX"
            continue
        if value is not None:
            props[PROPERTIES[name]] = value
    return props


class HubSpotHarness(Harness):
    name = "hubspot"
    role = Role.MA
    container_key = "list"

    def __init__(self, *, ten_second_limit: int | None = None, daily_limit: int | None = None) -> None:
        self.wall = ManualClock()
        #: One manual monotonic clock for both sides: the sandbox's rate-limit windows and the
        #: connector's pacing and retry waits (a wait advances it instead of sleeping).
        self.pace = ManualClock(start=1000.0)
        self.sb = HubSpotSandbox(
            clock=self.wall, monotonic=self.pace, ten_second_limit=ten_second_limit, daily_limit=daily_limit
        ).start()
        self._connectors: list[HubSpotConnector] = []

    def settings(self, **overrides: Any) -> HubSpotSettings:
        values: dict[str, Any] = {"base_url": self.sb.url, "auth": {"method": "private_app", "token": self.sb.token}}
        return HubSpotSettings(**{**values, **overrides})

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def connector(self, settings: HubSpotSettings | None = None) -> HubSpotConnector:
        conn = HubSpotConnector(
            "sys", settings or self.settings(), now=self.now, monotonic=self.pace, sleep=self.pace.advance
        )
        self._connectors.append(conn)
        return conn

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        return RecordRef("sys", "contact", self.sb.state.add_contact(email or "", **hubspot_properties(fields)))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        return self.sb.state.add_list(name, "MANUAL")

    def add_readonly_container(self, name: str) -> str:
        return self.sb.state.add_list(name, "DYNAMIC")

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self.sb.state.add_list_members(container_id, [ref.id])

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        self.sb.state.remove_list_members(container_id, [ref.id])

    def members(self, container_id: str) -> dict[str, str | None]:
        return dict.fromkeys(self.sb.state.list_members(container_id))

    def tick(self, seconds: float = 1.0) -> None:
        self.wall.advance(seconds)

    def close(self) -> None:
        for conn in self._connectors:
            conn.close()
        self.sb.stop()
