"""Large plans through Bulk API 2.0 ingest jobs, against the Salesforce emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.salesforce import SalesforceConnector, SupportsBulkApply, bulk
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, RecordRef
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_memory import FakeClock
from tests.contract.harness_salesforce import no_wait_policy, settings_for


def test_plan_above_the_threshold_goes_through_ingest_jobs(sandbox: SalesforceSandbox) -> None:
    state = sandbox.state
    cid = state.add_campaign("Bulk", statuses=[("Sent", False), ("Responded", True)])
    contacts = [
        RecordRef("sf", "Contact", i) for i in state.bulk_add_contacts([f"c{i}@example.com" for i in range(400)])
    ]
    leads = [RecordRef("sf", "Lead", i) for i in state.bulk_add_leads([f"l{i}@example.com" for i in range(100)])]
    state.bulk_add_members(cid, [r.id for r in contacts[:50]], "Sent")
    changes = [Change(ChangeAction.ADD, r, "Sent") for r in contacts[50:] + leads]  # 450 new members
    changes += [Change(ChangeAction.ADD, contacts[0], "Sent")]  # already a member
    changes += [Change(ChangeAction.SET_STATUS, r, "Responded") for r in contacts[1:20]]
    changes += [Change(ChangeAction.REMOVE, r) for r in contacts[20:30]]
    changes += [Change(ChangeAction.ADD, RecordRef("sf", "Contact", contacts[30].id), "Exploded")]  # present: no write
    bad = RecordRef("sf", "Lead", leads[0].id)
    changes[len(contacts) - 50] = Change(ChangeAction.ADD, bad, "Exploded")  # the first lead, with a bad status

    settings = settings_for(sandbox, bulk_threshold=100)
    conn = SalesforceConnector("sf", settings, policy=no_wait_policy(), bulk_poll_seconds=0)
    assert isinstance(conn, SupportsBulkApply)
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()
    outcomes = conn.apply_changes(container, changes)

    by_state: dict[OutcomeState, int] = {}
    for o in outcomes:
        by_state[o.state] = by_state.get(o.state, 0) + 1
    assert by_state == {OutcomeState.APPLIED: 449 + 19 + 10, OutcomeState.ALREADY_PRESENT: 2, OutcomeState.REJECTED: 1}
    rejected = next(o for o in outcomes if o.state is OutcomeState.REJECTED)
    assert rejected.change.target == bad
    assert rejected.code
    assert rejected.message
    members = state.members(cid)
    assert len(members) == 50 + 449 - 10
    assert all(members[r.id] == "Responded" for r in contacts[1:20])
    assert not any(r.id in members for r in contacts[20:30])
    assert sandbox.server.calls(r"/composite/sobjects") == 0
    assert sandbox.server.calls(r"/jobs/ingest/?$", "POST") == 3  # insert, update, delete


def test_a_query_job_is_read_a_results_page_at_a_time(
    sandbox: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = sandbox.state
    cid = state.add_campaign("Paged")
    state.bulk_add_members(cid, state.bulk_add_contacts([f"p{i}@example.com" for i in range(2500)]))
    monkeypatch.setattr(bulk, "QUERY_PAGE_ROWS", 1000)
    conn = SalesforceConnector(
        "sf", settings_for(sandbox, bulk_threshold=100), policy=no_wait_policy(), bulk_poll_seconds=0
    )
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()
    rows = conn.read_members(container)
    first = [next(rows) for _ in range(1000)]
    assert sandbox.server.calls(r"/results", "GET") == 1  # the rest is fetched only as it is consumed
    rest = list(rows)
    assert sandbox.server.calls(r"/results", "GET") == 3
    assert len({r.tie_id for r in first + rest}) == 2500


def test_large_read_switches_to_a_query_job_and_keeps_the_contract(sandbox: SalesforceSandbox) -> None:
    state = sandbox.state
    clock = FakeClock()
    state.clock = clock
    cid = state.add_campaign("Huge")
    ids = state.bulk_add_contacts([f"h{i}@example.com" for i in range(2500)])
    state.bulk_add_members(cid, ids)
    lead = state.add_lead("late.lead@example.com")
    settings = settings_for(sandbox, bulk_threshold=1000)
    conn = SalesforceConnector("sf", settings, policy=no_wait_policy(), bulk_poll_seconds=0)
    container = conn.find_container("campaign", cid)
    sandbox.server.reset_log()
    first = list(conn.read_members(container))
    assert sandbox.server.calls(r"/jobs/query/?$", "POST") == 1  # 2500 > 1000 and more than one page
    mark = max(r.modified_at for r in first if r.modified_at is not None)
    assert len(first) == 2500
    assert {r.person.email for r in first} == {f"h{i}@example.com" for i in range(2500)}
    assert all(r.person.ref.kind == "Contact" and r.status == "Sent" for r in first)

    clock.tick(5)
    state.bulk_add_members(cid, [lead])
    gone = state.add_member(cid, state.add_contact("brief@example.com"))
    state.remove_member(gone)
    for member_id in [m for m in state.lookup("CampaignMember", "CampaignId", cid)][:2200]:
        state.set_member_status(member_id, "Responded")
    sandbox.server.reset_log()
    rows = list(conn.read_members(container, since=Watermark(mark + timedelta(seconds=1))))
    assert sandbox.server.calls(r"/jobs/query/?$", "POST") == 1
    assert (lead, False) in {(r.person.ref.id, r.removed) for r in rows}
    assert any(r.removed and r.person.email == "brief@example.com" for r in rows)
    assert sum(1 for r in rows if r.status == "Responded") == 2200
