"""``campaign-bridge demo --crm dynamics``: the demo company as Dynamics holds it, synced with HubSpot through
the real connectors; a second run finds nothing to change."""

from __future__ import annotations

from pathlib import Path

from campaign_bridge.demo import Pair, run_demo


def test_the_demo_runs_on_dynamics_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first = run_demo(folder, pair=Pair("dynamics", "hubspot"))
    assert set(first["left_out"]) == {"pricing-requests-to-crm"}  # a contact list cannot take created leads
    assert [r["status"] for r in first["runs"]] == ["ok"] * 4
    changed = {(c["rule"], c["email"]) for c in first["changed"]}
    # The webinar's lists (a static contact list, a lead list, a dynamic list) feed the nurture list;
    # Margaret through the contact her qualified lead became.
    assert ("webinar-to-nurture", "margaret@hooli.example") in changed
    assert ("webinar-to-nurture", "edsger@tailspin.example") not in changed  # only Invited
    # Bounces become campaign responses in the campaign's contact list.
    assert ("bounces-to-crm", "bounced@initech.example") in changed
    again = run_demo(folder, pair=Pair("dynamics", "hubspot"))
    assert again["changes"] == 0
    assert [r["status"] for r in again["runs"]] == ["ok"] * 4
