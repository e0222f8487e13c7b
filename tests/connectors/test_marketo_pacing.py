"""A static list target's first page is read when the run plans its first add, not by its first write.

Under Marketo's window (100 calls per 20 s) the first bulk import waited for that read, then took a slot of
the next window alongside the lookups, and held them while Marketo took the file: their slots came back
seconds late in the window after, at the end of the run (docs/benchmarks.md, Marketo limits on). Read
early, the member check still holds: a member someone else added before the read is never claimed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.connectors.policy import DEFAULT_ATTEMPTS
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeAction, Container, OutcomeState
from tests.contract.harness_marketo import MarketoHarness
from tests.e2e.test_marketo_e2e import World, _config, _engine, world

__all__ = ["world"]  # the end-to-end fixture

FIRST_PAGE = r"^/rest/v1/lists/\d+/leads\.json$"


@pytest.fixture
def harness() -> Iterator[MarketoHarness]:
    h = MarketoHarness()
    yield h
    h.close()


def test_prepared_writes_read_the_first_page_once_and_still_never_claim_a_member(harness: MarketoHarness) -> None:
    cid = harness.add_container("Nurture")
    theirs = harness.add_person("t@x.example")
    refs = [harness.add_person(f"o{i}@x.example") for i in range(1000)]
    harness.add_member(cid, theirs)
    conn = harness.connector()
    container = conn.find_container("list", "Nurture")
    conn.prepare_writes(container)
    assert harness.sb.server.calls(FIRST_PAGE, method="GET") == 1
    changes = [Change(ChangeAction.ADD, theirs), *(Change(ChangeAction.ADD, r) for r in refs)]
    outcomes = conn.apply_changes(container, changes[:300]) + conn.apply_bulk(container, changes[300:])
    assert outcomes[0].state is OutcomeState.ALREADY_PRESENT
    assert {o.state for o in outcomes[1:]} == {OutcomeState.APPLIED}
    assert harness.sb.server.calls(FIRST_PAGE, method="GET") == 1  # neither write read it again
    assert len(harness.members(cid)) == 1001


def test_preparing_a_program_or_a_smart_list_makes_no_call(harness: MarketoHarness) -> None:
    harness.sb.state.add_program("Webinar", channel="Webinar")
    harness.add_readonly_container("Clicked")
    conn = harness.connector()
    program, smart = conn.find_container("program", "Webinar"), conn.find_container("list", "Clicked")
    before = len(harness.sb.server.log)
    conn.prepare_writes(program)
    conn.prepare_writes(smart)
    assert len(harness.sb.server.log) == before


def test_a_failed_early_read_is_asked_again_by_the_first_write(harness: MarketoHarness) -> None:
    cid = harness.add_container("Nurture")
    theirs, ours = harness.add_person("t@x.example"), harness.add_person("o@x.example")
    harness.add_member(cid, theirs)
    conn = harness.connector()
    container = conn.find_container("list", "Nurture")
    conn.lookup_people(["o@x.example"])  # logged in: the faults below fall on the first page
    harness.sb.server.faults.queue("garbage", DEFAULT_ATTEMPTS)
    with pytest.raises(TransientError):
        conn.prepare_writes(container)
    outcomes = conn.apply_changes(container, [Change(ChangeAction.ADD, theirs), Change(ChangeAction.ADD, ours)])
    assert [o.state for o in outcomes] == [OutcomeState.ALREADY_PRESENT, OutcomeState.APPLIED]
    # the write read the first page again, rather than asking Member of List for each batch from then on
    assert harness.sb.server.calls(r"ismember") == 0


def test_a_first_sync_prepares_its_static_list_before_any_write(world: World, monkeypatch: Any, tmp_path: Path) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Webinar", statuses=[("Sent", False), ("Responded", True)])
    for email in ("ada@x.example", "grace@x.example"):
        w.sf.state.add_member(campaign, w.sf_ids[email], "Sent")
    w.mk.state.add_list("Webinar list")
    seen: list[tuple[str, int]] = []
    real = MarketoConnector.prepare_writes

    def spy(self: MarketoConnector, container: Container) -> None:
        # how many writes to the list Marketo had taken when the run prepared it
        seen.append((container.name, w.mk.server.calls(r"^/rest/v1/lists/\d+/leads\.json$", method="POST")))
        real(self, container)

    monkeypatch.setattr(MarketoConnector, "prepare_writes", spy)
    rule = '  - name: to-list\n    from: {connection: sf, campaign: "Webinar"}\n'
    rule += '    to: {connection: mk, list: "Webinar list"}\n    match: {create_missing: skip}\n    mode: mirror\n'
    config = _config(w.sf, w.mk, tmp_path / "own", extra=rule)
    engine, store = _engine(config)
    try:
        report = engine.sync("to-list")
        assert report.status == "ok", report.message
        assert seen == [("Webinar list", 0)]
        assert {str(i) for i in w.mk.state.lists[next(iter(w.mk.state.lists))].members} == {
            str(w.mk_ids["ada@x.example"]),
            str(w.mk_ids["grace@x.example"]),
        }
        seen.clear()
        idle = engine.sync("to-list")  # nothing to add: nothing prepared
        assert (idle.status, seen) == ("ok", [])
    finally:
        for connector in engine.connectors.values():
            connector.close()
        store.close()
