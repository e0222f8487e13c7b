"""Sandboxes saved to a folder come back as they were: records, deleted rows, indexes, rollups, credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from campaign_bridge.sandbox.demo_company import WEBINAR
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.hubspot.saved import dump_hubspot
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sandbox.salesforce.saved import dump_salesforce


def test_saved_sandboxes_load_back_unchanged_and_keep_working(tmp_path: Path) -> None:
    with Sandboxes(tmp_path) as sandboxes:
        assert not sandboxes.restored
        hub = sandboxes.get("hubspot", HubSpotSandbox)
        org, portal = sandboxes.get("salesforce", SalesforceSandbox).state, hub.state
        assert sandboxes.seed_demo(datetime.now(UTC)) == list(sandboxes)  # every registered one
        webinar = next(i for i, c in org.tables["Campaign"].items() if c["Name"] == WEBINAR)
        member = next(i for i, m in org.tables["CampaignMember"].items() if m["CampaignId"] == webinar)
        org.remove_member(member)  # a deleted row queryAll still sees
        portal.archive_contact(portal.find_contact("stale@globex.example") or "")
        doomed = portal.add_list("Old list", "MANUAL")
        portal.lists.delete(portal.get_list(doomed), portal.now_ms())
        portal.add_list("Newer list", "MANUAL")  # an id after the deleted one
        sf_before, hs_before = dump_salesforce(org), dump_hubspot(hub)
        sandboxes.save()

    with Sandboxes(tmp_path) as again:
        assert again.restored == set(sandboxes)
        assert again.seed_demo(datetime.now(UTC)) == []  # a restored sandbox is never seeded over
        org = again.get("salesforce", SalesforceSandbox).state
        # Everything, campaign rollups included (they are recounted from the members on load).
        assert dump_salesforce(org) == sf_before
        assert dump_hubspot(again.get("hubspot", HubSpotSandbox)) == hs_before
        assert org.tables["Campaign"][webinar]["NumberOfContacts"] + org.tables["Campaign"][webinar][
            "NumberOfLeads"
        ] == len(org.members(webinar))
        # Indexes were rebuilt, and new records never reuse a saved id.
        [ada] = org.lookup("Contact", "Email", "ADA@northwind.example")
        fresh = org.add_contact("new@example.com")
        assert all(fresh != r["Id"] for r in sf_before["records"]["Contact"])
        assert org.get(ada) is not None
        # The saved list numbering holds: the next list gets an id no list ever had.
        assert (
            int(again.get("hubspot", HubSpotSandbox).state.add_list("Another", "MANUAL"))
            == max(h["id"] for h in hs_before["lists"]) + 1
        )
