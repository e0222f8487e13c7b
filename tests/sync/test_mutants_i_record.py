"""A member the rule added stays its own through a removal that failed: when the person comes back to the
source before the removal went through, the target answers "already a member", the log says the member
is still the rule's, and a mirror rule removes them when they leave again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container, ContainerKind
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.test_mutants_record import MIRROR, RAISE
from tests.sync.world import World


def _sync(world: World, cfg: Any, *, failing: bool = False) -> RunReport:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    if failing:

        def down(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
            raise TransientError("HubSpot answered 502 Bad Gateway")

        connectors["ma"].apply_changes = down  # type: ignore[method-assign]
    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("web")
    world.clock.tick(60)
    return report


def test_a_member_whose_removal_failed_and_who_came_back_is_still_the_rules_own(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    assert _sync(world, cfg).counts.get("added") == 1

    world.crm.remove_member(camp, ann)
    assert _sync(world, cfg, failing=True).counts.get("failed") == 1  # the removal never went through
    assert world.ma_emails(lst) == {"ann@x.com"}

    world.crm.add_member(camp, ann, "Responded")  # back before the removal was retried
    back = _sync(world, cfg)
    assert back.status == "ok"
    assert [(d.kind, d.detail) for d in back.decisions if d.email == "ann@x.com"] == [
        (Kind.ALREADY_MEMBER, "already a member, added by this rule before (still its own)")
    ]

    world.crm.remove_member(camp, ann)  # she leaves again: the mirror rule removes its own member
    gone = _sync(world, cfg)
    assert gone.counts.get("removed") == 1
    assert world.ma_emails(lst) == set()


SLOT = """
  - name: autumn
    from: {{connection: crm, campaign: Autumn}}
    to: {{connection: ma, campaign: Autumn touch}}
    exclusive: {policy}
"""


def _placed_by_hand_in_another_slot(world: World) -> tuple[str, str]:
    """Ann is in the "Spring touch" campaign of an exclusive family (a prospect is in one of them), put
    there by hand (no rule's ledger knows it), and in the CRM's Autumn campaign."""
    spring = world.ma_list("Spring touch", ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
    autumn = world.ma_list("Autumn touch", ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
    world.ma.add_member(spring, world.ma_person("ann@x.com"))
    world.crm.add_member(world.campaign("Autumn"), world.crm_person("ann@x.com"))
    return spring, autumn


def test_latest_wins_moves_a_person_out_of_a_slot_they_were_put_in_by_hand(world: World) -> None:
    spring, autumn = _placed_by_hand_in_another_slot(world)

    report = world.sync(world.config(SLOT.format(policy="latest_wins")), "autumn")

    assert (world.ma_emails(spring), world.ma_emails(autumn)) == (set(), {"ann@x.com"})
    said = [(d.kind, d.email, d.detail, d.container) for d in report.decisions]
    assert said == [
        (Kind.EXCLUSIVE_TARGET, "ann@x.com", f"already in {spring}; latest_wins: moved here", "ma:Autumn touch"),
        (Kind.ADDED, "ann@x.com", "added", "ma:Autumn touch"),
    ]
    assert report.status == "ok"
    # the rule owns the member it moved: a rerun changes nothing
    again = world.sync(world.config(SLOT.format(policy="latest_wins")), "autumn")
    assert (again.counts.get("added", 0), again.conflicts) == (0, [])


def test_keep_first_leaves_a_person_in_the_slot_they_were_put_in_by_hand(world: World) -> None:
    spring, autumn = _placed_by_hand_in_another_slot(world)

    report = world.sync(world.config(SLOT.format(policy="keep_first")), "autumn")

    assert (world.ma_emails(spring), world.ma_emails(autumn)) == ({"ann@x.com"}, set())
    said = [(d.kind, d.email, d.detail, d.container) for d in report.decisions]
    assert said == [
        (Kind.EXCLUSIVE_TARGET, "ann@x.com", f"already in {spring}; keep_first: kept where they are", "ma:Autumn touch")
    ]
    cfg = world.config(SLOT.format(policy="keep_first"))
    (verdict,) = explain(world.store, cfg, "ann@x.com")
    assert verdict["verdict"] == f"not in ma:Autumn touch: blocked (occupied by {spring})"


def test_a_member_put_in_by_hand_at_a_higher_status_is_kept_there_and_the_conflict_log_says_so(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    registered = world.ma_list("Registered")
    world.ma.add_member(registered, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Attended")  # put there by hand
    cfg = world.config(RAISE.format(name="registered", source="Registered", status="Registered"))

    world.sync(cfg, "registered")

    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    (row,) = world.store.decisions(rule="registered", conflicts_only=True)  # what `conflicts` lists
    assert (row["kind"], row["email"], row["container"], row["detail"]) == (
        Kind.STATUS_COLLISION,
        "ada@x.com",
        "crm:Event",
        "kept 'Attended' over 'Registered': a member status never moves backwards",
    )


def test_after_a_removal_explain_says_the_person_is_gone_not_maybe_still_there(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ann = world.crm_person("ann@x.com")
    world.crm.add_member(camp, ann, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    _sync(world, cfg)
    world.crm.remove_member(camp, ann)

    assert _sync(world, cfg).counts.get("removed") == 1

    assert world.ma_emails(lst) == set()
    (said,) = explain(world.store, cfg, "ann@x.com")
    assert said["verdict"] == "not in ma:Nurture: see the decisions below"
    assert [d["kind"] for d in said["decisions"]] == [Kind.REMOVED, Kind.ADDED]
