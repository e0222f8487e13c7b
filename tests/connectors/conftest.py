"""Connector fixtures, fresh per test: a HubSpot sandbox behind the unmodified hubspot-api-client (``hs``);
a Salesforce sandbox on a fake clock (``sandbox``) and a connector to it over simple-salesforce (``conn``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_hubspot import HubSpotHarness
from tests.contract.harness_memory import FakeClock
from tests.contract.harness_salesforce import no_wait_policy, settings_for


@pytest.fixture
def hs() -> Iterator[HubSpotHarness]:
    harness = HubSpotHarness()
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as running:
        running.state.clock = FakeClock()
        yield running


@pytest.fixture
def conn(sandbox: SalesforceSandbox) -> SalesforceConnector:
    return SalesforceConnector("sf", settings_for(sandbox), policy=no_wait_policy(), bulk_poll_seconds=0)


@pytest.fixture
def tokyo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process runs in Asia/Tokyo (UTC+9) for the test, then in its own zone again: a naive moment read
    as local time instead of UTC shows nine hours off. Skipped where the zone cannot be changed."""
    if not hasattr(time, "tzset"):
        pytest.skip("the process's zone can be changed only where time.tzset exists")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()
