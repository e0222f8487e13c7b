"""The Salesforce emulator driven by the unmodified simple-salesforce client over HTTPS on loopback."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from campaign_bridge.sandbox.salesforce import SalesforceSandbox


def _password_login(sandbox: SalesforceSandbox) -> Any:
    c = sandbox.credentials
    return Salesforce(
        username=c["username"],
        password=c["password"],
        security_token=c["security_token"],
        session=sandbox.requests_session(),
    )


def _content(exc: Any) -> Any:
    """The parsed error body simple-salesforce attached to its exception."""
    return exc.content


def _error_code(exc: Any) -> str:
    assert isinstance(exc.content, list), "Salesforce error bodies are arrays"
    return str(exc.content[0]["errorCode"])


# ---- authentication --------------------------------------------------------------------------------


def test_soap_login_through_login_salesforce_com(sandbox: SalesforceSandbox) -> None:
    campaign = sandbox.state.add_campaign("Spring webinar")
    sf = _password_login(sandbox)
    assert sf.sf_instance == sandbox.instance_url.removeprefix("https://")
    assert sf.query("SELECT Id, Name FROM Campaign")["records"][0]["Id"] == campaign
    assert sandbox.server.calls(r"^/services/Soap/u/59\.0$", "POST") == 1


def test_soap_login_with_a_wrong_password_is_a_login_fault(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=c["username"],
            password="nope",
            security_token=c["security_token"],
            session=sandbox.requests_session(),
        )
    assert caught.value.code == "INVALID_LOGIN"


def test_oauth_password_flow(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    sf = Salesforce(
        username=c["username"],
        password=c["password"],
        consumer_key=c["client_id"],
        consumer_secret=c["client_secret"],
        session=sandbox.requests_session(),
    )
    assert sf.limits()["DailyApiRequests"]["Max"] > 0
    assert sandbox.server.calls(r"^/services/oauth2/token$", "POST") == 1


def test_oauth_password_flow_with_wrong_secret_is_refused(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=c["username"],
            password=c["password"],
            consumer_key=c["client_id"],
            consumer_secret="wrong",
            session=sandbox.requests_session(),
        )
    assert caught.value.code == "invalid_client"


def test_client_credentials_flow_on_a_my_domain(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    sf = Salesforce(
        consumer_key=c["client_id"],
        consumer_secret=c["client_secret"],
        domain="acme.my",
        session=sandbox.requests_session(),
    )
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_jwt_bearer_flow_with_the_sandbox_key(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    sf = Salesforce(
        username=c["username"],
        consumer_key=c["client_id"],
        privatekey=c["jwt_private_key_pem"],
        session=sandbox.requests_session(),
    )
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True


def test_jwt_signed_with_another_key_is_refused(sandbox: SalesforceSandbox) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    c = sandbox.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=c["username"], consumer_key=c["client_id"], privatekey=pem, session=sandbox.requests_session()
        )
    assert caught.value.code == "invalid_grant"


def test_expired_session_answers_401_with_an_array_body(sandbox: SalesforceSandbox, sf: Any) -> None:
    sandbox.state.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Contact")
    assert _content(caught.value) == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_password_client_logs_in_again_after_expiry(sandbox: SalesforceSandbox) -> None:
    sf = _password_login(sandbox)
    sandbox.state.add_contact("back@x.com")
    sandbox.state.expire_sessions()
    assert sf.query("SELECT Email FROM Contact")["records"][0]["Email"] == "back@x.com"
    assert sandbox.server.calls(r"^/services/Soap/u/", "POST") == 2


def test_requests_without_a_session_are_refused(sandbox: SalesforceSandbox) -> None:
    response = sandbox.requests_session().get(f"{sandbox.instance_url}/services/data/v59.0/limits/")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


# ---- SOQL ------------------------------------------------------------------------------------------


def test_query_more_walks_5000_members_in_pages(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Big list")
    people = state.bulk_add_contacts([f"p{i}@x.com" for i in range(5000)])
    state.bulk_add_members(campaign, people)
    sandbox.server.reset_log()

    first = sf.query(f"SELECT Id, ContactId, Status FROM CampaignMember WHERE CampaignId = '{campaign}'")
    assert (first["totalSize"], first["done"], len(first["records"])) == (5000, False, 2000)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    every = sf.query_all(f"SELECT Id, ContactId, Status FROM CampaignMember WHERE CampaignId = '{campaign}'")

    assert sorted(r["ContactId"] for r in every["records"]) == sorted(people)
    assert sandbox.server.calls(r"/query/?$") == 2
    assert sandbox.server.calls(r"/query/01g") == 2  # two more pages per walk: 2000 + 2000 + 1000


def test_batch_size_header_sets_the_page_size(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Paged")
    state.bulk_add_members(campaign, state.bulk_add_contacts([f"b{i}@x.com" for i in range(450)]))
    page = sf.query("SELECT Id FROM CampaignMember", headers={"Sforce-Query-Options": "batchSize=200"})
    assert (len(page["records"]), page["done"]) == (200, False)
    tiny = sf.query("SELECT Id FROM CampaignMember", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200  # Salesforce never pages below 200


def test_query_all_sees_deleted_members(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Churn")
    kept = state.add_member(campaign, state.add_contact("kept@x.com"))
    gone = state.add_member(campaign, state.add_lead("gone@x.com"))
    state.remove_member(gone)
    soql = f"SELECT Id, IsDeleted FROM CampaignMember WHERE CampaignId = '{campaign}'"

    live = sf.query(soql)["records"]
    every = sf.query_all(soql, include_deleted=True)["records"]

    assert [r["Id"] for r in live] == [kept]
    assert {r["Id"]: r["IsDeleted"] for r in every} == {kept: False, gone: True}


def test_a_quote_in_an_email_matches_only_itself(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    obrien = state.add_contact("o'brien@x.com")
    state.add_contact("obrien@x.com")
    state.add_contact("o\\brien@x.com")

    found = sf.query(format_soql("SELECT Id, Email FROM Contact WHERE Email = {}", "o'brien@x.com"))
    hostile = sf.query(format_soql("SELECT Id FROM Contact WHERE Email = {}", "x' OR Email != '"))
    backslash = sf.query(format_soql("SELECT Email FROM Contact WHERE Email IN {}", ["o\\brien@x.com"]))

    assert [(r["Id"], r["Email"]) for r in found["records"]] == [(obrien, "o'brien@x.com")]
    assert hostile["totalSize"] == 0
    assert [r["Email"] for r in backslash["records"]] == ["o\\brien@x.com"]


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Contact GROUP BY Id",
        "SELECT Id FROM Contact LIMIT 5 OFFSET 5",
        "SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM CampaignMember)",
        "SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR FirstName = 'c'",
        "SELECT Id FROM Contact WHERE CreatedDate = TODAY",
        "SELECT MAX(CreatedDate) FROM Contact",
        "SELECT Id FROM Contact WHERE Email = :email",
        "SELECT Id FROM Contact WHERE Email = 'unterminated",
    ],
)
def test_unsupported_soql_is_malformed_query(sf: Any, soql: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert _error_code(caught.value) == "MALFORMED_QUERY"


def test_unknown_field_is_invalid_field(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Emial FROM Contact")
    assert _error_code(caught.value) == "INVALID_FIELD"
    assert "Emial" in _content(caught.value)[0]["message"]


def test_contacts_by_opportunity_stage_through_contact_roles(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    won, lost = state.add_contact("won@x.com"), state.add_contact("lost@x.com")
    state.add_contact_role(state.add_opportunity("Big deal", "Closed Won", "2024-05-01"), won)
    state.add_contact_role(state.add_opportunity("Other", "Closed Lost", "2024-05-02"), lost)

    rows = sf.query(
        "SELECT ContactId, Contact.Email FROM OpportunityContactRole WHERE Opportunity.StageName = 'Closed Won'"
    )["records"]

    assert [(r["ContactId"], r["Contact"]["Email"]) for r in rows] == [(won, "won@x.com")]


# ---- records and collections -----------------------------------------------------------------------


def test_duplicate_member_is_duplicate_value(sandbox: SalesforceSandbox, sf: Any) -> None:
    campaign = sandbox.state.add_campaign("Dupes")
    contact = sandbox.state.add_contact("dupe@x.com")
    created = sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})
    assert created["success"] is True
    assert created["id"].startswith("00v")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})
    assert _content(caught.value) == [
        {"message": "Already a campaign member.", "errorCode": "DUPLICATE_VALUE", "fields": []}
    ]


def test_status_must_be_one_of_the_campaigns_labels(sandbox: SalesforceSandbox, sf: Any) -> None:
    campaign = sandbox.state.add_campaign("Event", statuses=[("Invited", False), ("Attended", True)])
    contact = sandbox.state.add_contact("guest@x.com")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact, "Status": "Responded"})
    assert _error_code(caught.value) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert _content(caught.value)[0]["fields"] == ["Status"]
    member = sf.CampaignMember.create({"CampaignId": campaign, "ContactId": contact})["id"]
    row = sf.CampaignMember.get(member)
    assert (row["Status"], row["HasResponded"]) == ("Invited", False)  # the first status is the default


def _collection(campaign: str, people: list[str], statuses: list[str]) -> list[dict[str, Any]]:
    return [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign, "ContactId": p, "Status": s}
        for p, s in zip(people, statuses, strict=True)
    ]


def test_collections_partial_failure_keeps_the_good_records(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Partial")
    a, b, c = (state.add_contact(f"{n}@x.com") for n in "abc")
    state.add_member(campaign, b)

    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": _collection(campaign, [a, b, c], ["Responded", "Sent", "Bogus"])},
    )

    assert [r["success"] for r in results] == [True, False, False]
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == [
        "DUPLICATE_VALUE",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    assert state.members(campaign) == {a: "Responded", b: "Sent"}


def test_collections_all_or_none_rolls_everything_back(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Atomic")
    a, b = state.add_contact("a@x.com"), state.add_contact("b@x.com")

    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": _collection(campaign, [a, b], ["Responded", "Bogus"])},
    )

    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert state.members(campaign) == {}
    assert sf.Campaign.get(campaign)["NumberOfContacts"] == 0
    assert sf.query("SELECT COUNT() FROM CampaignMember")["totalSize"] == 0


def test_collections_update_and_delete(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Moves")
    a, b = state.add_contact("a@x.com"), state.add_contact("b@x.com")
    ma, mb = state.add_member(campaign, a), state.add_member(campaign, b)

    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "CampaignMember"}, "Id": ma, "Status": "Responded"}]},
    )
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{mb},{mb}", "allOrNone": "false"})

    assert updated == [{"id": ma, "success": True, "errors": []}]
    assert [d["success"] for d in deleted] == [True, False]
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert state.members(campaign) == {a: "Responded"}
    assert sf.Campaign.get(campaign)["NumberOfResponses"] == 1


def test_a_201_record_collection_is_refused_whole(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Too many")
    people = state.bulk_add_contacts([f"t{i}@x.com" for i in range(201)])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={"allOrNone": False, "records": _collection(campaign, people, ["Sent"] * 201)},
        )
    assert _error_code(caught.value) == "EXCEEDED_ID_LIMIT"
    assert state.members(campaign) == {}


def test_single_record_crud_and_describe(sandbox: SalesforceSandbox, sf: Any) -> None:
    lead = sf.Lead.create({"LastName": "Ng", "Company": "Initech", "Email": "ng@initech.com"})["id"]
    assert lead.startswith("00Q")
    assert len(lead) == 18
    sf.Lead.update(lead, {"Title": "CTO"})
    assert sf.Lead.get(lead)["Title"] == "CTO"
    sf.Lead.delete(lead)
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(lead)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "NoCompany"})
    assert _error_code(caught.value) == "REQUIRED_FIELD_MISSING"
    fields = {f["name"]: f for f in sf.CampaignMember.describe()["fields"]}
    assert fields["HasResponded"]["updateable"] is False
    assert fields["CampaignId"]["createable"] is True
    assert fields["CampaignId"]["updateable"] is False


def test_unknown_resources_are_not_found_arrays(sandbox: SalesforceSandbox, sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.restful("no/such/thing")
    assert _error_code(caught.value) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Widget.describe()


# ---- limits ----------------------------------------------------------------------------------------


def test_limit_info_header_feeds_api_usage(sandbox: SalesforceSandbox, sf: Any) -> None:
    sandbox.state.set_daily_limit(15000)
    sf.query("SELECT Id FROM Contact")
    sf.query("SELECT Id FROM Contact")
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (2, 15000)
    assert sf.limits()["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}


def test_spent_allocation_refuses_every_call_until_reset(sandbox: SalesforceSandbox, sf: Any) -> None:
    sandbox.state.set_daily_limit(2)
    sf.query("SELECT Id FROM Contact")
    sf.query("SELECT Id FROM Campaign")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.status == 403
    assert _content(caught.value) == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    _password_login(sandbox)  # logins are not API calls and still work
    sandbox.state.reset_usage()
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


# ---- Bulk API 2.0 ----------------------------------------------------------------------------------


def test_bulk2_query_returns_csv_pages(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Export")
    people = state.bulk_add_contacts([f"e{i}@x.com" for i in range(25)])
    state.bulk_add_members(campaign, people, "Responded")

    pages = list(
        sf.bulk2.CampaignMember.query(
            f"SELECT Id, ContactId, Contact.Email, HasResponded FROM CampaignMember WHERE CampaignId = '{campaign}'",
            max_records=10,
            wait=0,
        )
    )

    assert len(pages) == 3
    assert pages[0].splitlines()[0] == '"Id","ContactId","Contact.Email","HasResponded"'
    rows = [line for page in pages for line in page.splitlines()[1:]]
    assert len(rows) == 25
    assert all(row.endswith(',"true"') for row in rows)
    assert f'"{people[0]}","e0@x.com"' in rows[0]


def test_bulk2_insert_reports_successes_and_failures(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Import")
    a, b = state.add_contact("a@x.com"), state.add_contact("b@x.com")
    state.add_member(campaign, b)

    [outcome] = sf.bulk2.CampaignMember.insert(
        records=[
            {"CampaignId": campaign, "ContactId": a, "Status": "Responded"},
            {"CampaignId": campaign, "ContactId": b, "Status": "Sent"},
        ],
        wait=0,
    )

    assert (outcome["numberRecordsProcessed"], outcome["numberRecordsFailed"]) == (2, 1)
    failed = sf.bulk2.CampaignMember.get_failed_records(outcome["job_id"])
    assert failed.splitlines()[0].startswith('"sf__Id","sf__Error"')
    assert "DUPLICATE_VALUE:Already a campaign member." in failed
    succeeded = sf.bulk2.CampaignMember.get_successful_records(outcome["job_id"])
    assert '"true"' in succeeded.splitlines()[1]
    assert state.members(campaign) == {a: "Responded", b: "Sent"}


def test_bulk2_delete_removes_members(sandbox: SalesforceSandbox, sf: Any) -> None:
    state = sandbox.state
    campaign = state.add_campaign("Cleanup")
    member = state.add_member(campaign, state.add_contact("x@x.com"))
    [outcome] = sf.bulk2.CampaignMember.delete(records=[{"Id": member}], wait=0)
    assert outcome["numberRecordsFailed"] == 0
    assert state.members(campaign) == {}


def test_transport_routes_salesforce_hosts_and_leaves_others(sandbox: SalesforceSandbox) -> None:
    session = sandbox.requests_session()
    versions = session.get("https://login.salesforce.com/services/data/").json()
    assert {"label": "v59.0", "url": "/services/data/v59.0", "version": "59.0"} in versions
    plain = requests.Session()
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{sandbox.instance_url}/services/data/")  # the generated CA is not trusted by default


def test_control_api_expires_sessions_and_sets_the_allocation(sandbox: SalesforceSandbox, sf: Any) -> None:
    control = sandbox.requests_session()
    assert control.post(f"{sandbox.instance_url}/__sandbox/daily-limit", json={"limit": 1}).status_code == 204
    sf.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM Contact")
    assert control.post(f"{sandbox.instance_url}/__sandbox/reset-usage").status_code == 204
    assert control.post(f"{sandbox.instance_url}/__sandbox/expire-sessions").status_code == 204
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Contact")
    assert sandbox.server.calls("__sandbox") == 0


def test_updated_and_deleted_feeds(sandbox: SalesforceSandbox, sf: Any) -> None:
    from datetime import UTC, datetime, timedelta

    state = sandbox.state
    campaign = state.add_campaign("Feeds")
    kept = state.add_member(campaign, state.add_contact("k@x.com"))
    gone = state.add_member(campaign, state.add_contact("g@x.com"))
    state.remove_member(gone)
    start, end = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)

    assert sf.CampaignMember.updated(start, end)["ids"] == [kept]
    assert [d["id"] for d in sf.CampaignMember.deleted(start, end)["deletedRecords"]] == [gone]
