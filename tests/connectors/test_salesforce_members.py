"""Campaign members and people against the Salesforce emulator: paging, conversions, escaping, partial
failures, limits and retries, as a user of the connector sees them."""

from __future__ import annotations

import pytest

from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import FatalError, QuotaExhaustedError
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, RecordRef
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_salesforce import settings_for

QUERY_PATH = r"/services/data/v[\d.]+/query"


def test_large_campaign_is_read_in_pages_of_2000(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    cid = sandbox.state.add_campaign("Big webinar")
    ids = sandbox.state.bulk_add_contacts([f"p{i}@example.com" for i in range(5000)])
    sandbox.state.bulk_add_members(cid, ids)
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()
    rows = list(conn.read_members(container))
    assert len(rows) == 5000
    assert {r.person.ref.id for r in rows} == set(ids)
    assert sandbox.server.calls(QUERY_PATH, "GET") == 3


def test_converted_lead_member_names_its_contact(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    cid = sandbox.state.add_campaign("Conversions")
    lead = sandbox.state.add_lead("convert.me@example.com")
    sandbox.state.add_member(cid, lead, "Sent")
    contact = sandbox.state.convert_lead(lead)
    rows = list(conn.read_members(conn.find_container("campaign", cid)))
    assert len(rows) == 1
    person = rows[0].person
    assert person.ref == RecordRef("sf", "Lead", lead)
    assert person.converted_to == RecordRef("sf", "Contact", contact)
    assert person.survivor.id == contact
    found = conn.lookup_people(["convert.me@example.com"])["convert.me@example.com"]
    lead_record = next(r for r in found if r.ref.kind == "Lead")
    assert lead_record.converted_to == RecordRef("sf", "Contact", contact)


def test_a_quote_in_an_email_neither_breaks_nor_widens_a_lookup(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    quoted = sandbox.state.add_contact("o'neil@example.com")
    sandbox.state.add_contact("oneil@example.com")
    sandbox.state.add_lead("o'neil@example.com")
    hostile = "x' OR Email != 'y@example.com"
    found = conn.lookup_people(["O'Neil@example.com", hostile, "back\\slash@example.com"])
    assert set(found) == {"o'neil@example.com"}
    assert {r.ref.kind for r in found["o'neil@example.com"]} == {"Contact", "Lead"}
    assert quoted in {r.ref.id for r in found["o'neil@example.com"]}


def test_partial_collections_failure_rejects_only_the_bad_items(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    cid = sandbox.state.add_campaign("Partial", statuses=[("Sent", False), ("Responded", True)])
    good = [RecordRef("sf", "Contact", sandbox.state.add_contact(f"ok{i}@example.com")) for i in range(3)]
    bad = RecordRef("sf", "Contact", sandbox.state.add_contact("bad@example.com"))
    changes = [Change(ChangeAction.ADD, good[0], "Sent"), Change(ChangeAction.ADD, bad, "Exploded")]
    changes += [Change(ChangeAction.ADD, r, "Responded") for r in good[1:]]
    outcomes = conn.apply_changes(conn.find_container("campaign", cid), changes)
    assert [o.state for o in outcomes] == [
        OutcomeState.APPLIED,
        OutcomeState.REJECTED,
        OutcomeState.APPLIED,
        OutcomeState.APPLIED,
    ]
    assert outcomes[1].code
    assert outcomes[1].message
    assert sandbox.state.members(cid) == {good[0].id: "Sent", good[1].id: "Responded", good[2].id: "Responded"}


def test_mixed_batch_of_adds_status_changes_and_removals(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    cid = sandbox.state.add_campaign("Mixed", statuses=[("Sent", False), ("Responded", True)])
    lead = RecordRef("sf", "Lead", sandbox.state.add_lead("lead@example.com"))
    stay, leave, fresh = (RecordRef("sf", "Contact", sandbox.state.add_contact(f"{n}@example.com")) for n in "slf")
    sandbox.state.add_member(cid, stay.id, "Sent")
    sandbox.state.add_member(cid, leave.id, "Sent")
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()
    outcomes = conn.apply_changes(
        container,
        [
            Change(ChangeAction.SET_STATUS, stay, "Responded"),
            Change(ChangeAction.REMOVE, leave),
            Change(ChangeAction.ADD, lead, "Sent"),
            Change(ChangeAction.ADD, stay, "Sent"),
            Change(ChangeAction.REMOVE, fresh),
            Change(ChangeAction.SET_STATUS, fresh, "Responded"),
        ],
    )
    assert [o.state for o in outcomes] == [
        OutcomeState.APPLIED,
        OutcomeState.APPLIED,
        OutcomeState.APPLIED,
        OutcomeState.ALREADY_PRESENT,
        OutcomeState.ALREADY_ABSENT,
        OutcomeState.REJECTED,
    ]
    assert outcomes[3].current_status == "Sent"  # read before this batch's status change
    assert sandbox.state.members(cid) == {stay.id: "Responded", lead.id: "Sent"}
    # one lookup query, then one create, one update and one delete
    assert sandbox.server.calls(QUERY_PATH, "GET") == 1
    assert sandbox.server.calls(r"/composite/sobjects") == 3


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_a_status_change_never_lowers_a_member_raised_since_it_was_planned(
    sandbox: SalesforceSandbox, conn: SalesforceConnector, bulk: bool
) -> None:
    # The engine planned Sent → Responded from its ledger; meanwhile sales set the member to Attended by
    # hand. The write keeps Attended and says what the campaign holds, so the engine logs the collision.
    cid = sandbox.state.add_campaign("Event", statuses=[("Sent", False), ("Responded", True), ("Attended", True)])
    raised, plain = (RecordRef("sf", "Contact", sandbox.state.add_contact(f"{n}@example.com")) for n in "rp")
    sandbox.state.add_member(cid, raised.id, "Attended")
    sandbox.state.add_member(cid, plain.id, "Sent")
    container = conn.find_container("campaign", cid)
    changes = [
        Change(ChangeAction.SET_STATUS, raised, "Responded"),
        Change(ChangeAction.SET_STATUS, plain, "Responded"),
    ]
    outcomes = conn.apply_bulk(container, changes) if bulk else conn.apply_changes(container, changes)
    assert [o.state for o in outcomes] == [OutcomeState.ALREADY_PRESENT, OutcomeState.APPLIED]
    assert outcomes[0].current_status == "Attended"
    assert sandbox.state.members(cid) == {raised.id: "Attended", plain.id: "Responded"}


def test_daily_limit_answer_stops_with_a_clear_message(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    sandbox.state.set_daily_limit(sandbox.state.api_usage)
    with pytest.raises(QuotaExhaustedError, match="daily API limit is spent.*next run resumes"):
        conn.list_containers()


def test_org_reserve_is_never_spent(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    sandbox.state.set_daily_limit(100)
    sandbox.state.api_usage = 94  # other integrations spent most of today's calls
    conn.list_containers()  # one query: the org now reports 95 of 100 used
    sandbox.server.reset_log()
    with pytest.raises(QuotaExhaustedError, match="stopping before the last 5%"):
        conn.list_containers()
    assert sandbox.server.calls(QUERY_PATH) == 0
    usage = conn.usage()
    assert usage.limit == sandbox.state.daily_limit
    assert usage.used == sandbox.state.api_usage


def test_a_long_lived_connector_resumes_when_the_org_has_calls_again(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    # `serve` keeps its connectors for days: yesterday's "limit spent" must not refuse calls for ever.
    now = [0.0]
    conn.client.org.monotonic = lambda: now[0]
    sandbox.state.set_daily_limit(100)
    sandbox.state.api_usage = 100
    with pytest.raises(QuotaExhaustedError):
        conn.list_containers()
    sandbox.server.reset_log()
    with pytest.raises(QuotaExhaustedError):
        conn.list_containers()
    assert sandbox.server.calls(QUERY_PATH) == 0  # within minutes: trusted, no call spent on asking
    sandbox.state.reset_usage()  # the rolling 24 hours moved on
    now[0] += conn.client.org.STALE_SECONDS
    assert isinstance(conn.list_containers(), list)


def test_transient_503_drop_and_garbage_are_retried(sandbox: SalesforceSandbox) -> None:
    patient = CallPolicy(attempts=5, sleep=lambda _: None)
    conn = SalesforceConnector("sf", settings_for(sandbox), policy=patient)
    cid = sandbox.state.add_campaign("Flaky")
    conn.list_containers()  # logged in
    sandbox.server.faults.configure(error_status=503)
    sandbox.server.faults.queue("error", 2)
    sandbox.server.faults.queue("drop")
    sandbox.server.faults.queue("garbage")
    assert cid in {c.id for c in conn.list_containers()}
    assert sandbox.server.faults.injected == {"error": 2, "drop": 1, "garbage": 1, "slow": 0}


def test_campaigns_and_their_statuses_come_in_one_query(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    statuses = [("Invited", False), ("Registered", False), ("Attended", True), ("No-show", False)]
    ids = [sandbox.state.add_campaign(f"Event {i}", statuses=statuses, BudgetedCost=1500.0) for i in range(12)]
    sandbox.server.reset_log()
    found = {c.id: c for c in conn.list_containers()}
    assert sandbox.server.calls(QUERY_PATH, "GET") == 1
    event = found[ids[3]]
    assert [s.label for s in event.statuses] == ["Invited", "Registered", "Attended", "No-show"]
    assert [s.label for s in event.statuses if s.responded] == ["Attended"]
    assert event.default_status is not None
    assert event.default_status.label == "Invited"
    assert event.details is not None
    assert event.details.type == "Webinar"
    assert event.details.budgeted_cost == 1500.0


def test_finding_a_campaign_with_its_statuses_costs_one_query(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    statuses = [("Invited", False), ("Attended", True), ("No-show", False)]
    for i in range(5):
        state.add_campaign(f"Other {i}")
    cid = state.add_campaign("Spring gala", statuses=statuses, ExpectedRevenue=9000.0)
    conn.list_containers()  # logged in
    for ref in ("Spring gala", cid, cid[:15]):
        sandbox.server.reset_log()
        found = conn.find_container("campaign", ref)
        assert sandbox.server.calls(QUERY_PATH) == 1
        assert found.id == cid
        assert [(s.label, s.responded, s.default, s.rank) for s in found.statuses] == [
            ("Invited", False, True, 1),
            ("Attended", True, False, 2),
            ("No-show", False, False, 3),
        ]
        assert found.details is not None
        assert found.details.expected_revenue == 9000.0
        assert found == next(c for c in conn.list_containers() if c.id == cid)  # the same as listed


def test_finding_a_campaign_keeps_exact_names_and_the_hints(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    state.add_campaign("Spring gala")
    twins = [state.add_campaign("Twin"), state.add_campaign("Twin")]
    with pytest.raises(FatalError, match="no campaign named 'spring gala'; did you mean 'Spring gala'"):
        conn.find_container("campaign", "spring gala")  # SOQL = ignores case; a rule's name does not
    with pytest.raises(FatalError, match=f"2 campaigns are named 'Twin' \\({twins[0]}, {twins[1]}\\)"):
        conn.find_container("campaign", "Twin")
    quoted = state.add_campaign("O'Brien's \\ night")
    assert conn.find_container("campaign", "O'Brien's \\ night").id == quoted
