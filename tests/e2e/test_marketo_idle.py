"""Marketo sources between the engine's full reads, end to end against the sandboxes: a static list read from
the activity feed picks up an add and a removal made in Marketo, an activity segment's member leaves the
Salesforce campaign when their click lapses out of the window, and an idle run costs 2 Marketo calls."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.sandbox.marketo.state import CLICK_EMAIL
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.e2e.test_marketo_e2e import DAY, World, _sf_emails, world

__all__ = ["world"]  # the fixture, shared with the other Marketo end-to-end tests


def _marketo_calls(w: World) -> list[str]:
    """The Marketo requests logged since the last reset, the identity endpoint left out (Marketo does not
    count it)."""
    return [r.path for r in w.mk.server.log if not r.path.startswith("/identity")]


def test_a_static_list_source_follows_an_add_and_a_removal_with_an_incremental_read(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Engaged", statuses=[("Sent", False), ("Responded", True)])
    static = w.mk.state.add_list("Clicked an email")
    w.mk.state.add_list_members(static, [w.mk_ids["ada@x.example"], w.mk_ids["grace@x.example"]])
    for activity in w.mk.state.activities:
        activity.at -= 3600  # the list was built an hour ago, before the look-back
    first = w.engine.sync("clicked-list-to-sf")
    assert (first.status, first.full_read) == ("ok", True)
    assert _sf_emails(w, campaign) == {"ada@x.example", "grace@x.example"}

    w.mk.server.reset_log()
    idle = w.engine.sync("clicked-list-to-sf")
    assert (idle.status, idle.full_read, idle.adds, idle.removals) == ("ok", False, [], [])
    assert _marketo_calls(w) == ["/rest/v1/activities/pagingtoken.json", "/rest/v1/activities.json"]

    w.mk.state.add_list_members(static, [w.mk_ids["ed@x.example"]])
    w.mk.state.remove_list_members(static, [w.mk_ids["grace@x.example"]])
    w.mk.server.reset_log()
    second = w.engine.sync("clicked-list-to-sf")
    assert (second.status, second.full_read) == ("ok", False)
    assert _sf_emails(w, campaign) == {"ada@x.example", "ed@x.example"}
    # The token, one page of list activities, the two leads by id: neither the list nor its members again.
    assert _marketo_calls(w) == [
        "/rest/v1/activities/pagingtoken.json",
        "/rest/v1/activities.json",
        "/rest/v1/leads.json",
    ]

    # Nothing changed since, but the last change is within the look-back: it is read again (its leads by
    # id, one call more), in case a change stamped before it is recorded late; nothing is written.
    w.mk.server.reset_log()
    after = w.engine.sync("clicked-list-to-sf")
    assert (after.status, after.adds, after.removals) == ("ok", [], [])
    assert _sf_emails(w, campaign) == {"ada@x.example", "ed@x.example"}
    assert len(_marketo_calls(w)) == 3


def test_a_clicker_whose_click_lapses_leaves_the_campaign_on_an_incremental_run(world: World) -> None:
    w = world
    campaign = w.sf.state.add_campaign("Engaged recently", statuses=[("Sent", False), ("Responded", True)])
    now = time.time()
    w.mk.state.log_activity(w.mk_ids["ada@x.example"], CLICK_EMAIL, "Newsletter", at=now - 3 * DAY)
    w.mk.state.log_activity(w.mk_ids["grace@x.example"], CLICK_EMAIL, "Newsletter", at=now - 30 * DAY + 3600)
    first = w.engine.sync("recent-clicks-to-sf")
    assert (first.status, first.full_read) == ("ok", True)
    assert _sf_emails(w, campaign) == {"ada@x.example", "grace@x.example"}

    # Two hours on (the daily full read not yet due): grace's click is now 30 days and an hour old.
    later = datetime.fromtimestamp(now, UTC) + timedelta(hours=2)
    mk = MarketoConnector("mk", w.config.connections["mk"], now=lambda: later)
    engine = Engine(w.config, w.store, {**w.engine.connectors, "mk": mk}, clock=lambda: later)
    try:
        w.mk.server.reset_log()
        second = engine.sync("recent-clicks-to-sf")
        assert (second.status, second.full_read) == ("ok", False)
        assert _sf_emails(w, campaign) == {"ada@x.example"}
        # The feed was read up to the first run's start, so the watermark is that start less the look-back,
        # not ada's three-day-old click: no click since, so no lead is read by id (was 3 calls).
        assert _marketo_calls(w) == ["/rest/v1/activities/pagingtoken.json", "/rest/v1/activities.json"]
    finally:
        mk.close()


def test_the_store_keeps_the_static_list_it_found_so_an_idle_run_never_finds_it_again(world: World) -> None:
    w = world
    w.sf.state.add_campaign("Engaged", statuses=[("Sent", False), ("Responded", True)])
    w.mk.state.add_list("Clicked an email")
    w.engine.sync("clicked-list-to-sf")
    store = Store(w.config.state_url)
    try:
        assert store.source_container("clicked-list-to-sf")
    finally:
        store.close()
    w.mk.server.reset_log()
    w.engine.sync("clicked-list-to-sf")
    assert w.mk.server.calls(r"^/rest/v1/lists") == 0
