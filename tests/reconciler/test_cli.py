"""`campaign-bridge reconcile` as an admin runs it: the table, --json, exit codes, and `explain` telling drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from campaign_bridge.cli import main
from tests.reconciler.helpers import config
from tests.sync.world import World

RULE = """
  - name: web
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
    on_manual_removal: restore
"""


def _client_file(world: World, tmp_path: Path) -> str:
    """A client file on disk for the World (memory connectors are shared in-process by store name)."""
    path = tmp_path / "client.yaml"
    path.write_text(
        f"""client: test
state: {world.store.url}
connections:
  crm: {{type: memory-crm, store: {world.crm_name}}}
  ma: {{type: memory-ma, store: {world.ma_name}}}
rules:
{RULE}"""
    )
    return str(path)


def _drifted(world: World) -> str:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("kept@x.com", "gone@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Sent")
    world.sync(config(world, RULE), "web")
    world.ma.remove_member(lst, world.ma.person_id("gone@x.com"))
    world.ma.add_member(lst, world.ma_person("stranger@x.com"))
    return lst


def test_table_names_each_finding_and_what_repair_did(world: World, tmp_path: Path) -> None:
    lst = _drifted(world)
    path = _client_file(world, tmp_path)
    runner = CliRunner()

    report = runner.invoke(main, ["reconcile", path])
    assert report.exit_code == 0, report.output
    assert "rule web → ma:Nurture: drift" in report.output
    assert "gone@x.com" in report.output
    assert "removed from ma:Nurture by hand" in report.output
    assert "stranger@x.com" in report.output
    assert "never touched" in report.output
    assert world.ma_emails(lst) == {"kept@x.com", "stranger@x.com"}

    repaired = runner.invoke(main, ["reconcile", path, "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "rule web → ma:Nurture: repaired" in repaired.output
    assert "restored" in repaired.output
    assert world.ma_emails(lst) == {"kept@x.com", "gone@x.com", "stranger@x.com"}


def test_json_lists_every_finding_with_its_kind_and_action(world: World, tmp_path: Path) -> None:
    _drifted(world)
    path = _client_file(world, tmp_path)

    result = CliRunner().invoke(main, ["reconcile", path, "--rule", "web", "--repair", "--json"])

    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert (report["rule"], report["status"], report["repair"]) == ("web", "repaired", True)
    assert report["found"]["missing"] == 1
    assert report["found"]["unowned"] == 1
    by_email = {f["email"]: (f["kind"], f["action"]) for f in report["findings"]}
    assert by_email == {"gone@x.com": ("missing", "restored"), "stranger@x.com": ("unowned", "none")}


def test_explain_tells_the_drift_reconcile_found(world: World, tmp_path: Path) -> None:
    _drifted(world)
    path = _client_file(world, tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["reconcile", path])

    before = runner.invoke(main, ["explain", "gone@x.com", "-c", path])
    assert "drift" in before.output
    assert "removed from ma:Nurture by hand" in before.output
    assert "not repaired" in before.output

    runner.invoke(main, ["reconcile", path, "--repair"])
    after = runner.invoke(main, ["explain", "gone@x.com", "-c", path, "--json"])
    decisions = json.loads(after.output)[0]["decisions"]
    assert decisions[0]["kind"] == "added"  # the restore, as sync would log an add
    assert any(d["kind"] == "drift" and "repaired: restored" in d["detail"] for d in decisions)
    stranger = runner.invoke(main, ["explain", "stranger@x.com", "-c", path])
    assert "not added by this rule" in stranger.output


def test_a_held_lease_skips_the_rule_with_exit_code_4(world: World, tmp_path: Path) -> None:
    _drifted(world)
    path = _client_file(world, tmp_path)
    # The command runs on the wall clock: a lease that expires far in the future is held whatever its time.
    world.store.try_lease("web", "a-sync-worker", datetime(2999, 1, 1, tzinfo=UTC), world.clock())

    result = CliRunner().invoke(main, ["reconcile", path, "--json"])

    assert result.exit_code == 4
    assert json.loads(result.output)[0]["status"] == "skipped"
