"""SOQL as the Salesforce emulator reads it: literals, operators, relationships, ordering, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.sandbox.salesforce import ApiError, SalesforceState
from campaign_bridge.sandbox.salesforce.query import compile_query
from campaign_bridge.sandbox.salesforce.soql import parse


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(clock: Clock) -> SalesforceState:
    return SalesforceState(clock=clock)


def ids(org: SalesforceState, soql: str, *, include_deleted: bool = False) -> list[str]:
    return [r["Id"] for r in compile_query(org, soql).run(include_deleted=include_deleted)]


def refusal(org: SalesforceState, soql: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        compile_query(org, soql).run(include_deleted=False)
    return caught.value


def test_string_escapes_decode_to_the_characters_they_stand_for() -> None:
    where: Any = parse(r"SELECT Id FROM Contact WHERE Email = 'o\'b\\r\"i\nen'").where
    assert where.value.value == "o'b\\r\"i\nen"


def test_an_unknown_escape_is_malformed() -> None:
    with pytest.raises(ApiError) as caught:
        parse(r"SELECT Id FROM Contact WHERE Email = 'a\qb'")
    assert caught.value.code == "MALFORMED_QUERY"


def test_text_equality_ignores_case_but_ids_do_not(org: SalesforceState) -> None:
    ann = org.add_contact("Ann@Example.com")
    assert ids(org, "SELECT Id FROM Contact WHERE Email = 'ann@example.COM'") == [ann]
    assert ids(org, f"SELECT Id FROM Contact WHERE Id = '{ann[:15]}'") == [ann]  # 15-char ids work too
    assert ids(org, f"SELECT Id FROM Contact WHERE Id = '{ann[:15]}aaa'") == [ann]  # the suffix ignores case


def test_datetime_literals_in_any_offset_compare_as_instants(org: SalesforceState, clock: Clock) -> None:
    early = org.add_contact("early@x.com")
    clock.now += timedelta(hours=2)
    late = org.add_contact("late@x.com")
    for literal in ("2024-05-01T11:00:00Z", "2024-05-01T11:00:00+00:00", "2024-05-01T06:00:00-05:00"):
        assert ids(org, f"SELECT Id FROM Contact WHERE SystemModstamp > {literal}") == [late]
        assert ids(org, f"SELECT Id FROM Contact WHERE CreatedDate <= {literal}") == [early]


def test_quoted_datetime_is_refused_like_salesforce(org: SalesforceState) -> None:
    error = refusal(org, "SELECT Id FROM Contact WHERE SystemModstamp > '2024-05-01T00:00:00Z'")
    assert error.code == "INVALID_FIELD"
    assert "must be of type dateTime and should not be enclosed in quotes" in error.message
    assert refusal(org, "SELECT Id FROM Contact WHERE CreatedDate > 2024-05-01").code == "INVALID_FIELD"


def test_date_fields_take_date_literals(org: SalesforceState) -> None:
    may = org.add_opportunity("May", "Prospecting", "2024-05-10")
    org.add_opportunity("June", "Prospecting", "2024-06-10")
    assert ids(org, "SELECT Id FROM Opportunity WHERE CloseDate < 2024-06-01") == [may]


def test_and_or_not_with_parentheses(org: SalesforceState) -> None:
    a = org.add_lead("a@x.com", company="Acme", status="Working")
    b = org.add_lead("b@x.com", company="Initech", status="Working")
    c = org.add_lead("c@x.com", company="Initech", status="Open - Not Contacted")
    soql = "SELECT Id FROM Lead WHERE Status = 'Working' AND (Company = 'Acme' OR Email = 'c@x.com')"
    assert ids(org, soql) == [a]
    assert ids(org, "SELECT Id FROM Lead WHERE NOT Company = 'Acme'") == [b, c]
    assert ids(org, "SELECT Id FROM Lead WHERE NOT (Status = 'Working' OR Company = 'Acme')") == [c]


def test_not_equal_and_not_in_include_empty_values(org: SalesforceState) -> None:
    titled = org.add_contact("t@x.com", Title="CEO")
    untitled = org.add_contact("u@x.com")
    assert ids(org, "SELECT Id FROM Contact WHERE Title != 'CTO'") == [titled, untitled]
    assert ids(org, "SELECT Id FROM Contact WHERE Title NOT IN ('CEO')") == [untitled]
    assert ids(org, "SELECT Id FROM Contact WHERE Title IN ('ceo', null)") == [titled, untitled]
    assert ids(org, "SELECT Id FROM Contact WHERE Title = null") == [untitled]


def test_like_wildcards_and_escapes(org: SalesforceState) -> None:
    percent = org.add_contact("100%@x.com")
    plain = org.add_contact("100a@x.com")
    assert ids(org, "SELECT Id FROM Contact WHERE Email LIKE '100_@%'") == [percent, plain]
    assert ids(org, r"SELECT Id FROM Contact WHERE Email LIKE '100\%@%'") == [percent]
    assert ids(org, "SELECT Id FROM Contact WHERE Email LIKE '%A@X.COM'") == [plain]


def test_order_by_several_keys_with_nulls_and_limit(org: SalesforceState) -> None:
    b2 = org.add_contact("b2@x.com", last_name="B", Title="2")
    a = org.add_contact("a@x.com", last_name="a")
    b1 = org.add_contact("b1@x.com", last_name="b", Title="1")
    n = org.add_contact("n@x.com", last_name="B")
    assert ids(org, "SELECT Id FROM Contact ORDER BY LastName, Title DESC") == [a, b2, b1, n]
    assert ids(org, "SELECT Id FROM Contact ORDER BY Title ASC NULLS LAST, Email") == [b1, b2, a, n]
    assert ids(org, "SELECT Id FROM Contact ORDER BY Title LIMIT 2") == [a, n]


def test_count_query(org: SalesforceState) -> None:
    org.bulk_add_contacts(["a@x.com", "b@x.com", None])
    bound = compile_query(org, "SELECT COUNT() FROM Contact WHERE Email != null")
    assert bound.count
    assert len(bound.run(include_deleted=False)) == 2


def test_relationship_fields_in_select_and_where(org: SalesforceState) -> None:
    campaign = org.add_campaign("Launch")
    lead_member = org.add_member(campaign, org.add_lead("lead@x.com"))
    org.add_member(campaign, org.add_contact("contact@x.com"))
    bound = compile_query(
        org, "SELECT Id, Lead.Email, Contact.Email, Campaign.Name FROM CampaignMember WHERE Lead.Email LIKE 'lead%'"
    )
    [row] = bound.run(include_deleted=False)
    shaped = bound.to_json(row, "59.0")
    assert shaped["Id"] == lead_member
    assert shaped["Lead"]["Email"] == "lead@x.com"
    assert shaped["Lead"]["attributes"]["type"] == "Lead"
    assert shaped["Contact"] is None
    assert shaped["Campaign"]["Name"] == "Launch"
    assert bound.csv_header() == ["Id", "Lead.Email", "Contact.Email", "Campaign.Name"]
    assert bound.to_csv(row)[2] == ""


def test_indexed_in_lookup_returns_rows_in_creation_order(org: SalesforceState) -> None:
    first, second, third = (org.add_contact(f"{n}@x.com") for n in ("one", "two", "three"))
    soql = "SELECT Id FROM Contact WHERE Email IN ('THREE@x.com', 'one@x.com', 'two@x.com') AND LastName = 'Doe'"
    assert ids(org, soql) == [first, second, third]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Widget", "INVALID_TYPE"),
        ("SELECT Id, Id FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Nope.Email FROM CampaignMember", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE IsDeleted > true", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Id = 'short'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT COUNT() FROM Contact ORDER BY Email", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'a' OR", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact ORDER BY Email NULLS", "MALFORMED_QUERY"),
        ("SELECT FROM Contact", "MALFORMED_QUERY"),
    ],
)
def test_refusals(org: SalesforceState, soql: str, code: str) -> None:
    assert refusal(org, soql).code == code


def test_lead_or_contact_id_finds_both_kinds_of_member(org: SalesforceState) -> None:
    campaign = org.add_campaign("Mixed")
    lead, contact = org.add_lead("l@x.com"), org.add_contact("c@x.com")
    by_lead, by_contact = org.add_member(campaign, lead), org.add_member(campaign, contact)
    org.add_member(campaign, org.add_contact("other@x.com"))
    soql = f"SELECT Id FROM CampaignMember WHERE LeadOrContactId IN ('{contact}', '{lead}')"
    assert ids(org, soql) == [by_lead, by_contact]
