"""What a run records when the target answers that a person is already there: ``explain`` finds the person
by the address they got after the state store first knew them, whatever the answer ("already a member",
"in another slot"), and a member the rule owns stays its own through a status raise, so a mirror rule still
removes them when they leave."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import RunReport
from tests.sync.test_mutants_f_explain import MIRROR
from tests.sync.test_mutants_i_record import SLOT, _placed_by_hand_in_another_slot
from tests.sync.test_mutants_record import RAISE
from tests.sync.world import World


def _gets_an_address(world: World, pid: str, email: str) -> None:
    """The CRM contact, first read with no address (and so rejected by the rule), gets one."""
    world.crm.people[pid].email = email
    world.crm.people[pid].modified_at = world.clock()


def test_explain_finds_a_member_already_there_by_the_email_they_got_after_joining_the_source(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person(None)
    world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")  # no address: rejected
    _gets_an_address(world, pid, "late@x.com")
    assert world.store.requeue("web") == 1
    world.ma.add_member(lst, world.ma_person("late@x.com"))  # put in the list by hand meanwhile

    assert world.sync(cfg, "web", full=True).counts.get("already_member") == 1

    (entry,) = explain(world.store, cfg, "late@x.com")
    assert entry["verdict"] == "in ma:Nurture; was already there (not added by this rule)"
    assert [d["kind"] for d in entry["decisions"]] == ["already_member"]


def test_explain_finds_a_person_kept_in_another_slot_by_the_email_they_got_after_joining_the_source(
    world: World,
) -> None:
    spring, autumn = _placed_by_hand_in_another_slot(world)
    (pid,) = world.crm.people
    world.crm.people[pid].email = None  # ann's CRM contact had no address when the rule first read it
    cfg = world.config(SLOT.format(policy="keep_first"))
    world.sync(cfg, "autumn")
    _gets_an_address(world, pid, "ann@x.com")
    assert world.store.requeue("autumn") == 1

    world.sync(cfg, "autumn", full=True)

    assert (world.ma_emails(spring), world.ma_emails(autumn)) == ({"ann@x.com"}, set())
    (entry,) = explain(world.store, cfg, "ann@x.com")
    assert entry["verdict"] == f"not in ma:Autumn touch: blocked (occupied by {spring})"
    assert [d["kind"] for d in entry["decisions"]] == ["exclusive_target"]


def _sync(world: World, cfg: Any, *, crm_down: bool = False) -> RunReport:
    connectors = {name: build_connector(name, s) for name, s in cfg.connections.items()}
    if crm_down:

        def down(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
            raise TransientError("Salesforce answered 503 Service Unavailable")

        connectors["crm"].apply_changes = down  # type: ignore[method-assign]
    report = Engine(cfg, world.store, connectors, clock=world.clock).sync("event")
    world.clock.tick(60)
    return report


def test_an_owned_member_raised_after_coming_back_is_still_the_rules_own_and_removed_when_they_leave(
    world: World,
) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    registered = world.ma_list("Registered")
    ada = world.ma_person("ada@x.com")
    world.ma.add_member(registered, ada)
    world.crm_person("ada@x.com")
    mirror = "    mode: mirror\n"
    cfg = world.config(RAISE.format(name="event", source="Registered", status="Registered") + mirror)
    assert _sync(world, cfg).counts.get("added") == 1
    assert world.crm_members(camp) == {"ada@x.com": "Registered"}

    world.ma.remove_member(registered, ada)
    assert _sync(world, cfg, crm_down=True).counts.get("failed") == 1  # the removal never went through
    assert world.crm_members(camp) == {"ada@x.com": "Registered"}

    world.ma.add_member(registered, ada)  # back before the removal was retried, and the rule now says Attended
    cfg = world.config(RAISE.format(name="event", source="Registered", status="Attended") + mirror)
    back = _sync(world, cfg)
    assert back.counts.get("already_member") == 1
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    (entry,) = explain(world.store, cfg, "ada@x.com")
    assert entry["verdict"] == "in crm:Event with status 'Attended'; added by this rule"

    world.ma.remove_member(registered, ada)  # she leaves again: the mirror rule removes its own member
    assert _sync(world, cfg).counts.get("removed") == 1
    assert world.crm_members(camp) == {}
