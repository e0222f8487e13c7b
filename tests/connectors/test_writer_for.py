"""How a plan's changes go to a target, decided in one place (``connectors.base.writer_for``): through
``apply_bulk`` in chunks when the connector takes bulk and the plan is above its threshold, else through
``apply_changes`` in write batches."""

from __future__ import annotations

from campaign_bridge.connectors.base import uses_bulk, writer_for
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.connectors.salesforce.costs import write_break_even


def _salesforce(**extra: object) -> SalesforceConnector:
    settings = SalesforceSettings.model_validate(
        {"instance_url": "https://acme.my.salesforce.com", "auth": {"method": "session", "session_id": "s"}, **extra}
    )
    return SalesforceConnector("sf", settings)


def test_above_a_pinned_threshold_salesforce_writes_through_bulk_jobs() -> None:
    conn = _salesforce(bulk_threshold=100)
    assert writer_for(conn, 100) == (conn.apply_changes, conn.write_batch_size)
    assert writer_for(conn, 101) == (conn.apply_bulk, conn.bulk_batch_size)
    assert uses_bulk(conn, 101)
    assert not uses_bulk(conn, 100)


def test_by_default_salesforce_takes_bulk_where_it_costs_fewer_calls() -> None:
    conn = _salesforce()
    assert writer_for(conn, write_break_even())[0] == conn.apply_changes
    assert writer_for(conn, write_break_even() + 1)[0] == conn.apply_bulk


def test_a_connector_without_bulk_always_writes_in_batches() -> None:
    conn = HubSpotConnector("hs", HubSpotSettings.model_validate({"auth": {"method": "private_app", "token": "t"}}))
    assert writer_for(conn, 10_000_000) == (conn.apply_changes, conn.write_batch_size)
    assert not uses_bulk(conn, 10_000_000)
