"""Parent-to-child subqueries (``SELECT Name, (SELECT Label FROM CampaignMemberStatuses) FROM Campaign``)
answered by the Salesforce emulator to the unmodified simple-salesforce client, in Salesforce's JSON shape."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from campaign_bridge.sandbox.salesforce import SalesforceSandbox


def _refusal(sf: Salesforce, soql: str) -> str:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    content: Any = caught.value.content
    return str(content[0]["errorCode"])


def test_campaign_with_its_statuses_in_one_query(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    campaign = sandbox.state.add_campaign("Spring", statuses=[("Invited", False), ("Attended", True)])
    result = sf.query(
        "SELECT Id, Name, (SELECT Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatuses "
        "ORDER BY SortOrder) FROM Campaign"
    )
    assert result["totalSize"] == 1
    row = result["records"][0]
    assert (row["Id"], row["Name"]) == (campaign, "Spring")
    statuses = row["CampaignMemberStatuses"]
    assert (statuses["totalSize"], statuses["done"]) == (2, True)
    assert [(s["Label"], s["IsDefault"], s["HasResponded"]) for s in statuses["records"]] == [
        ("Invited", True, False),
        ("Attended", False, True),
    ]
    first = statuses["records"][0]
    assert first["attributes"]["type"] == "CampaignMemberStatus"
    assert first["attributes"]["url"].endswith(f"/sobjects/CampaignMemberStatus/{first_status_id(sf, campaign)}")
    assert set(first) == {"attributes", "Label", "IsDefault", "HasResponded", "SortOrder"}


def first_status_id(sf: Salesforce, campaign: str) -> str:
    rows = sf.query(f"SELECT Id FROM CampaignMemberStatus WHERE CampaignId = '{campaign}' ORDER BY SortOrder")
    return str(rows["records"][0]["Id"])


def test_no_children_is_null_and_each_parent_sees_only_its_own(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    state = sandbox.state
    busy = state.add_campaign("Busy")
    state.add_campaign("Empty")
    ann, bob = state.add_contact("ann@x.com"), state.add_contact("bob@x.com")
    state.add_member(busy, ann)
    state.remove_member(state.add_member(busy, bob))  # in the recycle bin: not a child any more
    result = sf.query("SELECT Name, (SELECT Contact.Email FROM CampaignMembers) FROM Campaign ORDER BY Name")
    by_name = {r["Name"]: r["CampaignMembers"] for r in result["records"]}
    assert by_name["Empty"] is None
    assert by_name["Busy"]["totalSize"] == 1
    assert by_name["Busy"]["records"][0]["Contact"]["Email"] == "ann@x.com"


def test_subquery_where_order_by_and_limit(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Webinar", statuses=[("Sent", False), ("Opened", False), ("Clicked", True)])
    soql = (
        "SELECT Name, (SELECT Label FROM CampaignMemberStatuses WHERE HasResponded = false "
        "ORDER BY SortOrder DESC LIMIT 5) FROM Campaign WHERE Id = '{}'"
    )
    row = sf.query(soql.format(campaign))["records"][0]
    assert [s["Label"] for s in row["CampaignMemberStatuses"]["records"]] == ["Opened", "Sent"]
    limited = sf.query(
        f"SELECT Name, (SELECT Label FROM CampaignMemberStatuses ORDER BY Label LIMIT 1) FROM Campaign "
        f"WHERE Id = '{campaign}'"
    )
    assert [s["Label"] for s in limited["records"][0]["CampaignMemberStatuses"]["records"]] == ["Clicked"]


def test_relationship_names_ignore_case_and_describe_lists_them(sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    sandbox.state.add_campaign("Any")
    row = sf.query("SELECT Name, (select label from campaignmemberstatuses) FROM Campaign")["records"][0]
    assert [s["Label"] for s in row["CampaignMemberStatuses"]["records"]] == ["Sent", "Responded"]
    children = {c["relationshipName"]: c for c in sf.Campaign.describe()["childRelationships"]}
    assert children["CampaignMemberStatuses"]["childSObject"] == "CampaignMemberStatus"
    assert children["CampaignMembers"]["field"] == "CampaignId"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Name, (SELECT Label FROM Statuses) FROM Campaign", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Id FROM CampaignMemberStatuses) FROM Contact", "INVALID_TYPE"),
        ("SELECT Name, (SELECT Nope FROM CampaignMemberStatuses) FROM Campaign", "INVALID_FIELD"),
        ("SELECT Name, (SELECT COUNT() FROM CampaignMembers) FROM Campaign", "MALFORMED_QUERY"),
        ("SELECT Id, (SELECT Id, (SELECT Id FROM CampaignMembers) FROM Campaign) FROM Campaign", "MALFORMED_QUERY"),
        ("SELECT Name, (SELECT Label FROM CampaignMemberStatuses FROM Campaign", "MALFORMED_QUERY"),
        ("SELECT (SELECT Id FROM CampaignMembers), (SELECT Id FROM campaignmembers) FROM Campaign", "MALFORMED_QUERY"),
    ],
)
def test_refusals(sandbox: SalesforceSandbox, sf: Salesforce, soql: str, code: str) -> None:
    sandbox.state.add_campaign("Any")
    assert _refusal(sf, soql) == code


def test_bulk2_query_refuses_subqueries(sandbox: SalesforceSandbox, sf: Any) -> None:
    sandbox.state.add_campaign("Any")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(sf.bulk2.Campaign.query("SELECT Name, (SELECT Label FROM CampaignMemberStatuses) FROM Campaign"))
    assert caught.value.content[0]["errorCode"] == "INVALIDJOB"
