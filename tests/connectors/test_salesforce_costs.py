"""REST or Bulk API 2.0 by call cost, against the Salesforce emulator: the campaign's member count known
before reading, reads and writes that take the cheaper API, and bulk writes that read only what they need."""

from __future__ import annotations

from typing import Literal

import pytest

from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.connectors.salesforce.costs import BulkChoice
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, RecordRef
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_salesforce import no_wait_policy, settings_for

QUERY = r"/services/data/v[\d.]+/query"
QUERY_JOBS = r"/jobs/query"
INGEST_JOBS = r"/jobs/ingest"
COLLECTIONS = r"/composite/sobjects"


def _campaign_of(sandbox: SalesforceSandbox, name: str, members: int) -> str:
    state = sandbox.state
    cid = state.add_campaign(name, statuses=[("Sent", False), ("Responded", True)])
    state.bulk_add_members(cid, state.bulk_add_contacts([f"{name}{i}@example.com" for i in range(members)]), "Sent")
    return cid


def test_the_campaign_comes_with_its_member_count(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    state = sandbox.state
    cid = _campaign_of(sandbox, "count", 3)
    state.add_member(cid, state.add_lead("lead@example.com"))
    converted = state.add_lead("converted@example.com")
    state.add_member(cid, converted)
    state.convert_lead(converted)  # its member row now names a contact: Salesforce counts it as one
    state.remove_member(state.add_member(cid, state.add_lead("gone@example.com")))
    sandbox.server.reset_log()

    container = conn.find_container("campaign", cid)

    assert container.size == 5 == len(list(conn.read_members(container)))
    assert sandbox.server.calls(QUERY, "GET") == 2  # the campaign (with its count), then its members
    assert conn.find_container("campaign", state.add_campaign("Empty")).size == 0


def test_a_10000_member_campaign_is_read_by_one_query_job_chosen_up_front(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    cid = _campaign_of(sandbox, "huge", 10_000)
    sandbox.server.reset_log()

    rows = list(conn.read_members(conn.find_container("campaign", cid)))

    assert len(rows) == 10_000
    keys = [(r.modified_at, r.tie_id) for r in rows]
    assert keys == sorted(keys)
    # 3 calls (create, one poll, one results page) where REST would take 5 pages; the campaign is 1 more.
    assert sandbox.server.calls(QUERY, "GET") == 1
    assert sandbox.server.calls(QUERY_JOBS) == 3
    assert conn.usage().calls == 1 + 1 + 3  # login, campaign, query job


def test_a_campaign_at_the_break_even_is_read_by_rest(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    cid = _campaign_of(sandbox, "even", 6000)  # three REST pages cost what a query job costs: REST answers sooner
    sandbox.server.reset_log()
    assert len(list(conn.read_members(conn.find_container("campaign", cid)))) == 6000
    assert (sandbox.server.calls(QUERY, "GET"), sandbox.server.calls(QUERY_JOBS)) == (1 + 3, 0)


@pytest.mark.parametrize(
    ("threshold", "rows", "up_front", "after_first_page"),
    [
        ("auto", 6000, False, False),  # REST 3 pages, a job 3 calls
        ("auto", 6001, True, False),  # REST 4 pages, a job 3 calls; 3 pages left after the first
        ("auto", 8001, True, True),  # 5 pages: the 4 left cost more than a job
        ("auto", 200_000, True, True),  # REST 100 pages, a job 2 + 4 result pages
        (10_000, 10_000, False, False),  # a pinned threshold switches only above it
        (10_000, 10_001, True, True),
    ],
)
def test_reads_take_bulk_when_it_costs_fewer_calls_or_past_a_pinned_threshold(
    threshold: int | Literal["auto"], rows: int, up_front: bool, after_first_page: bool
) -> None:
    choice = BulkChoice(threshold)
    assert (choice.read_in_bulk(rows), choice.finish_in_bulk(rows)) == (up_front, after_first_page)


def test_bulk_threshold_is_the_break_even_unless_pinned(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    # One ingest job costs 4 calls (create, upload, close, poll); 800 changes cost 4 Collections calls.
    assert conn.bulk_threshold == 800
    pinned = SalesforceConnector("sf", settings_for(sandbox, bulk_threshold=10_000), policy=no_wait_policy())
    assert pinned.bulk_threshold == 10_000


def test_a_bulk_insert_rereads_nothing_and_reports_present_members_with_their_status(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    cid = _campaign_of(sandbox, "busy", 3000)  # members the insert must not read
    people = state.bulk_add_contacts([f"new{i}@example.com" for i in range(1000)])
    present = people[:3]
    state.bulk_add_members(cid, present, "Responded")
    container = conn.find_container("campaign", cid)
    changes = [Change(ChangeAction.ADD, RecordRef("sf", "Contact", p), "Sent") for p in people]
    sandbox.server.reset_log()

    outcomes = conn.apply_bulk(container, changes)

    assert [o.state for o in outcomes[:3]] == [OutcomeState.ALREADY_PRESENT] * 3
    assert [o.current_status for o in outcomes[:3]] == ["Responded"] * 3
    assert all(o.state is OutcomeState.APPLIED for o in outcomes[3:])
    assert {p: state.members(cid)[p] for p in people} == {p: "Responded" if p in present else "Sent" for p in people}
    # one insert job (create, upload, close, poll, failed rows) and one lookup of the three refused rows
    assert sandbox.server.calls(INGEST_JOBS) == 5
    assert sandbox.server.calls(INGEST_JOBS + r".*/failedResults") == 1
    assert sandbox.server.calls(QUERY, "GET") == 1
    assert sandbox.server.calls(COLLECTIONS) == 0


def test_a_clean_bulk_insert_costs_four_calls(sandbox: SalesforceSandbox, conn: SalesforceConnector) -> None:
    state = sandbox.state
    cid = state.add_campaign("clean")
    people = state.bulk_add_leads([f"clean{i}@example.com" for i in range(900)])
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()

    outcomes = conn.apply_bulk(
        container, [Change(ChangeAction.ADD, RecordRef("sf", "Lead", p), "Sent") for p in people]
    )

    assert all(o.state is OutcomeState.APPLIED for o in outcomes)
    assert len(state.members(cid)) == 900
    assert sandbox.server.calls() == 4


def test_status_changes_and_removals_look_up_only_their_members_in_batches(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    cid = _campaign_of(sandbox, "moves", 20_000)
    members = list(state.members(cid))
    container = conn.find_container("campaign", cid)
    moved, removed = members[:250], members[250:300]
    outsider = state.add_contact("outsider@example.com")
    changes = [Change(ChangeAction.SET_STATUS, RecordRef("sf", "Contact", p), "Responded") for p in moved]
    changes += [Change(ChangeAction.REMOVE, RecordRef("sf", "Contact", p)) for p in removed]
    changes += [Change(ChangeAction.REMOVE, RecordRef("sf", "Contact", outsider))]
    sandbox.server.reset_log()

    outcomes = conn.apply_bulk(container, changes)

    assert [o.state for o in outcomes].count(OutcomeState.APPLIED) == 300
    assert outcomes[-1].state is OutcomeState.ALREADY_ABSENT
    after = state.members(cid)
    assert all(after[p] == "Responded" for p in moved)
    assert not any(p in after for p in removed)
    # 301 people: two lookups of 200 (not a read of 20,000 members), then an update and a delete job
    assert sandbox.server.calls(QUERY, "GET") == 2
    assert (sandbox.server.calls(INGEST_JOBS, "POST"), sandbox.server.calls(QUERY_JOBS)) == (2, 0)


def test_many_removals_read_the_campaign_once_when_that_is_cheaper(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    cid = _campaign_of(sandbox, "purge", 3000)
    container = conn.find_container("campaign", cid)
    changes = [Change(ChangeAction.REMOVE, RecordRef("sf", "Contact", p)) for p in state.members(cid)]
    sandbox.server.reset_log()

    outcomes = conn.apply_bulk(container, changes)

    assert all(o.state is OutcomeState.APPLIED for o in outcomes)
    assert state.members(cid) == {}
    # 3000 people would take 15 lookups; the campaign's 3000 members are 2 REST pages
    assert sandbox.server.calls(QUERY, "GET") == 2
