"""Campaign.NumberOfContacts and NumberOfLeads, the read-only roll-ups a connector reads to know a
campaign's size before reading its members, driven by simple-salesforce over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from campaign_bridge.sandbox.salesforce import SalesforceSandbox

COUNTS = (
    "SELECT NumberOfContacts, NumberOfLeads, (SELECT Label FROM CampaignMemberStatuses) FROM Campaign WHERE Id = '{}'"
)


def _counts(sf: Any, campaign: str) -> tuple[int, int]:
    [row] = sf.query(COUNTS.format(campaign))["records"]
    return row["NumberOfContacts"], row["NumberOfLeads"]


def _rows(sf: Any, campaign: str, where: str) -> int:
    return int(sf.query(f"SELECT COUNT() FROM CampaignMember WHERE CampaignId = '{campaign}' AND {where}")["totalSize"])


def test_counts_follow_every_way_members_come_and_go(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Counted")
    assert _counts(sf, campaign) == (0, 0)
    contacts = [state.add_contact(f"c{i}@x.com") for i in range(4)]
    leads = [state.add_lead(f"l{i}@x.com") for i in range(3)]

    for contact in contacts[:2]:
        sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})
    [job] = sf.bulk2.CampaignMember.insert(
        records=[{"CampaignId": campaign, "LeadId": lead, "ContactId": ""} for lead in leads]
        + [{"CampaignId": campaign, "LeadId": "", "ContactId": contacts[0]}],  # already a member: refused
        wait=0,
    )
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (4, 1)
    assert _counts(sf, campaign) == (2, 3)

    state.convert_lead(leads[0])  # its member row now names a contact too: Salesforce counts it as a contact
    member = sf.query(f"SELECT Id FROM CampaignMember WHERE LeadId = '{leads[1]}'")["records"][0]["Id"]
    sf.CampaignMember.delete(member)
    sf.Contact.delete(contacts[1])  # its membership goes with it
    sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contacts[2]})

    assert _counts(sf, campaign) == (3, 1)
    # as Salesforce counts them: rows with a ContactId, and rows with a LeadId but no ContactId
    assert _counts(sf, campaign) == (
        _rows(sf, campaign, "ContactId != null"),
        _rows(sf, campaign, "LeadId != null AND ContactId = null"),
    )


@pytest.mark.parametrize("field", ["NumberOfContacts", "NumberOfLeads"])
def test_counts_are_read_only(sandbox: SalesforceSandbox, sf: Any, field: str) -> None:
    campaign = sandbox.state.add_campaign("Fixed")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Campaign.update(campaign, {field: 5})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Campaign.create({"Name": "Padded", field: 5})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert _counts(sf, campaign) == (0, 0)
