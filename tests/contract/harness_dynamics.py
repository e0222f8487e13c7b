"""Contract harness for the Dynamics 365 connector: msal and requests over real HTTPS against the Dataverse
sandbox and its Entra ID tenant.

The contract's containers here are static marketing lists (``container_key = "list"``) and the harness plays
the suite's list-holding role (``Role.MA``): the suite's CRM tests are about a campaign's own member-status
list (Salesforce's ``CampaignMemberStatus``), which a Dynamics campaign does not have; its statuses are the
org's campaign response codes, tested in ``tests/connectors/test_dynamics_connector.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_bridge.connectors.dynamics import DynamicsConnector, DynamicsSettings
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from campaign_bridge.testing import Harness

#: A dynamic list of every contact at example.org (nobody in the suite): read-only, computed by Dynamics.
COMPUTED = (
    '<fetch><entity name="contact"><attribute name="contactid"/><filter type="and">'
    '<condition attribute="emailaddress1" operator="like" value="%@example.org"/></filter></entity></fetch>'
)


def settings_for(sandbox: DynamicsSandbox, auth: dict[str, Any] | None = None, **extra: Any) -> DynamicsSettings:
    """Settings pointing at ``sandbox`` (the environment and its tenant), trusting its CA; a client secret
    unless ``auth`` says otherwise."""
    creds = sandbox.credentials()
    return DynamicsSettings.model_validate(
        {
            "type": "dynamics",
            "url": sandbox.url,
            "tenant_id": creds["tenant_id"],
            "authority_host": sandbox.url,
            "ca_bundle": str(sandbox.ca_bundle),
            "auth": auth
            or {"method": "client_secret", "client_id": creds["client_id"], "client_secret": creds["client_secret"]},
            **extra,
        }
    )


class WallClock:
    """The org's wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class DynamicsHarness(Harness):
    name = "dynamics"
    role = Role.MA
    container_key = "list"

    def __init__(self) -> None:
        self.wall = WallClock()
        self.sandbox = DynamicsSandbox(clock=self.wall).start()
        self.state = self.sandbox.state

    def connector(self) -> DynamicsConnector:
        return DynamicsConnector(
            "sys", settings_for(self.sandbox), policy=CallPolicy(attempts=3, sleep=lambda _: None), sleep=lambda _: None
        )

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        first, last = fields.pop("first_name", ""), fields.pop("last_name", "Doe")
        return RecordRef("sys", "contact", self.state.add_contact(email, first, last))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        return self.state.add_list(name, "contact")

    def add_readonly_container(self, name: str) -> str:
        return self.state.add_list(name, "contact", query=COMPUTED)

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self.state.add_member(container_id, ref.id)

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        self.state.remove_member(container_id, ref.id)

    def members(self, container_id: str) -> dict[str, str | None]:
        return dict.fromkeys(self.state.static_members(container_id))

    def tick(self, seconds: float = 1.0) -> None:
        self.wall.now += timedelta(seconds=seconds)

    def close(self) -> None:
        self.sandbox.stop()
