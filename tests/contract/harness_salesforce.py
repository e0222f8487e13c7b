"""Contract harness for the Salesforce connector: the real connector, real simple-salesforce, real HTTPS,
against the Salesforce emulator (``campaign_bridge.sandbox.salesforce``) and its generated CA."""

from __future__ import annotations

from typing import Any

from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.mapping.model import RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.testing import Harness
from tests.contract.harness_memory import FakeClock

# Canonical profile fields → the Contact fields that hold them (others are passed as they are).
_CONTACT_FIELDS = {"email": "Email", "owner": "OwnerId", "created_at": "CreatedDate"}


def settings_for(sandbox: SalesforceSandbox, auth: dict[str, Any] | None = None, **extra: Any) -> SalesforceSettings:
    """Settings pointing at ``sandbox`` (login and instance) and trusting its CA; client credentials by default."""
    creds = sandbox.credentials
    return SalesforceSettings.model_validate(
        {
            "type": "salesforce",
            "instance_url": sandbox.instance_url,
            "login_url": sandbox.instance_url,
            "ca_bundle": str(sandbox.ca_bundle),
            "auth": auth
            or {
                "method": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
            **extra,
        }
    )


def no_wait_policy() -> CallPolicy:
    return CallPolicy(attempts=3, sleep=lambda _: None)


class SalesforceHarness(Harness):
    name = "salesforce"
    role = Role.CRM
    container_key = "campaign"

    def __init__(self) -> None:
        self.sandbox = SalesforceSandbox()
        self.sandbox.start()
        self.state = self.sandbox.state
        self.clock = FakeClock()
        self.state.clock = self.clock
        self._member_ids: dict[tuple[str, str], str] = {}

    def connector(self) -> Connector:
        return SalesforceConnector("sys", settings_for(self.sandbox), policy=no_wait_policy(), bulk_poll_seconds=0)

    def add_person(self, email: str | None, **fields: Any) -> RecordRef:
        first, last = fields.pop("first_name", ""), fields.pop("last_name", "Doe")
        native = {_CONTACT_FIELDS.get(k, k): v for k, v in fields.items()}
        return RecordRef("sys", "Contact", self.state.add_contact(email, first_name=first, last_name=last, **native))

    def add_container(self, name: str, *, statuses: list[tuple[str, bool]] | None = None) -> str:
        return self.state.add_campaign(name, statuses=statuses)

    def add_member(self, container_id: str, ref: RecordRef, status: str | None = None) -> None:
        self._member_ids[(container_id, ref.id)] = self.state.add_member(container_id, ref.id, status)

    def remove_member(self, container_id: str, ref: RecordRef) -> None:
        self.state.remove_member(self._member_ids.pop((container_id, ref.id)))

    def members(self, container_id: str) -> dict[str, str | None]:
        return dict(self.state.members(container_id))

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.tick(seconds)

    def close(self) -> None:
        self.sandbox.stop()
