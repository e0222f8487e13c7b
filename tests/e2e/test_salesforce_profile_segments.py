"""CRM segments on country and last activity, read from the Salesforce sandbox by the connector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.mapping.segment import parse_segment
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_salesforce import no_wait_policy, settings_for

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_country_and_last_activity_select_leads_and_contacts() -> None:
    with SalesforceSandbox() as sb:
        org = sb.state
        today = NOW.date()
        quiet_fr = org.add_contact("quiet.fr@example.com", MailingCountry="France")
        busy_fr = org.add_contact("busy.fr@example.com", MailingCountry="France")
        org.add_lead("never.fr@example.com", Country="France")  # never active: not "quiet"
        quiet_lead_fr = org.add_lead("quiet.lead.fr@example.com", Country="France")
        quiet_de = org.add_contact("quiet.de@example.com", MailingCountry="Germany")
        org.set_last_activity(quiet_fr, today - timedelta(days=90))
        org.set_last_activity(busy_fr, today - timedelta(days=5))
        org.set_last_activity(quiet_lead_fr, today - timedelta(days=61))
        org.set_last_activity(quiet_de, today - timedelta(days=90))
        segment = parse_segment(
            {
                "all": [
                    {"field": "country", "eq": "France"},
                    {"field": "last_activity_at", "exists": True},
                    {"field": "last_activity_at", "not_within": "60d"},
                ]
            }
        )
        conn = SalesforceConnector("sf", settings_for(sb), policy=no_wait_policy(), clock=lambda: NOW)
        try:
            found = {m.person.email for m in conn.read_segment(segment)}
        finally:
            conn.close()
    assert found == {"quiet.fr@example.com", "quiet.lead.fr@example.com"}
