"""The engine's behaviour as an admin sees it: what lands in the target, and what the log says."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Sequence

import pytest

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Change, ChangeOutcome, Container, ContainerKind
from campaign_bridge.sync import pipeline
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""


def _kinds(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.kind.value for d in report.conflicts]


def test_crm_campaign_to_ma_list_adds_then_idles_without_writes(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for i in range(4):
        world.crm.add_member(camp, world.crm_person(f"p{i}@x.com"), "Responded" if i < 3 else "Sent")
    cfg = world.config(MIRROR)
    first = world.sync(cfg, "web")
    assert first.status == "ok"
    assert world.ma_emails(lst) == {"p0@x.com", "p1@x.com", "p2@x.com"}
    calls_before = world.ma.calls
    second = world.sync(cfg, "web")
    assert second.counts.get("added", 0) == 0
    assert not second.full_read
    # An idle run makes no write and no lookup in the target: only the container listing.
    assert world.ma.calls - calls_before == 1


def test_mirror_removes_only_what_the_rule_added(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a, b = world.crm_person("a@x.com"), world.crm_person("b@x.com")
    world.crm.add_member(camp, a, "Responded")
    world.crm.add_member(camp, b, "Responded")
    manual = world.ma_person("b@x.com")
    world.ma.add_member(lst, manual)  # b was put in the list by hand before the rule ran
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.remove_member(camp, a)
    world.crm.remove_member(camp, b)
    report = world.sync(cfg, "web")
    assert report.counts.get("removed") == 1
    assert world.ma_emails(lst) == {"b@x.com"}
    assert Kind.LEFT_IN_PLACE in {d.kind for d in report.decisions}


def test_additive_never_removes(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a = world.crm_person("a@x.com")
    world.crm.add_member(camp, a, "Responded")
    cfg = world.config(MIRROR.replace("mirror", "additive"))
    world.sync(cfg, "web")
    world.crm.remove_member(camp, a)
    world.sync(cfg, "web", full=True)
    assert world.ma_emails(lst) == {"a@x.com"}


def test_safety_limit_holds_a_large_removal(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(30)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR + "    safety: {max_removals: 5}\n")
    world.sync(cfg, "web")
    for pid in ids[:20]:
        world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert report.status == "held"
    assert "max_removals=5" in report.message
    assert len(world.ma_emails(lst)) == 30
    assert "held_plan" in _kinds(report)


def test_plan_writes_nothing(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Responded")
    cfg = world.config(MIRROR)
    report = world.engine(cfg).plan("web")
    assert [i.email for i in report.adds] == ["a@x.com"]
    assert world.ma_emails(lst) == set()
    assert world.store.runs() == []
    assert world.sync(cfg, "web").counts["added"] == 1


MA_TO_CRM = """
  - name: {name}
    from: {{connection: ma, list: {source}}}
    to: {{connection: crm, campaign: Event, status: {status}}}
    match: {{prefer: contact, create_missing: {create}}}
"""


def _event(world: World) -> str:
    return world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])


def test_status_collision_never_moves_backwards(world: World) -> None:
    camp = _event(world)
    reg, att = world.ma_list("Registrants"), world.ma_list("Attendees")
    person = world.ma_person("ada@x.com")
    world.ma.add_member(reg, person)
    world.ma.add_member(att, person)
    world.crm_person("ada@x.com")
    cfg = world.config(
        MA_TO_CRM.format(name="attended", source="Attendees", status="Attended", create="skip")
        + MA_TO_CRM.format(name="registered", source="Registrants", status="Registered", create="skip")
    )
    world.sync(cfg, "attended")
    report = world.sync(cfg, "registered")
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert "status_collision" in _kinds(report)


def test_status_upgrades_an_existing_member(world: World) -> None:
    camp = _event(world)
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Invited")
    cfg = world.config(MA_TO_CRM.format(name="attended", source="Attendees", status="Attended", create="skip"))
    report = world.sync(cfg, "attended")
    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert report.counts.get("status_changed") == 1


def test_ambiguous_identity_prefers_contact_and_logs(world: World) -> None:
    camp = _event(world)
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("dup@x.com"))
    world.crm_person("dup@x.com", "Lead")
    contact = world.crm_person("dup@x.com", "Contact")
    cfg = world.config(MA_TO_CRM.format(name="r", source="Attendees", status="Attended", create="skip"))
    report = world.sync(cfg, "r")
    assert list(world.crm.members(camp)) == [contact]
    assert "ambiguous_identity" in _kinds(report)


def test_unmatched_person_is_skipped_or_created_as_the_rule_says(world: World) -> None:
    camp = _event(world)
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("stranger@x.com"))
    skip = world.config(MA_TO_CRM.format(name="r", source="Attendees", status="Attended", create="skip"))
    report = world.sync(skip, "r")
    assert world.crm_members(camp) == {}
    assert "unmatched_person" in _kinds(report)
    create = world.config(MA_TO_CRM.format(name="r2", source="Attendees", status="Attended", create="lead"))
    world.sync(create, "r2")
    assert world.crm_members(camp) == {"stranger@x.com": "Attended"}
    assert next(p for p in world.crm.people.values() if p.email == "stranger@x.com").kind == "Lead"


def test_rejected_record_is_logged_and_the_rest_applied(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("good@x.com", "refused@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Responded")
        world.ma_person(email)
    world.ma.containers[lst].reject["refused@x.com"] = ("INVALID_EMAIL", "blocked by a validation rule")
    report = world.sync(world.config(MIRROR), "web")
    assert world.ma_emails(lst) == {"good@x.com"}
    rejected = [d for d in report.conflicts if d.kind is Kind.REJECTED_RECORD]
    assert len(rejected) == 1
    assert "blocked by a validation rule" in rejected[0].detail


def test_lead_conversion_keeps_one_membership(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    lead = world.crm_person("conv@x.com", "Lead")
    world.crm.add_member(camp, lead, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    contact = world.crm_person("conv@x.com", "Contact")
    world.crm.convert(lead, contact)
    report = world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"conv@x.com"}
    assert len(world.ma.members(lst)) == 1
    assert report.counts.get("removed", 0) == 0
    assert "lead_converted" in _kinds(report)


def test_deleted_source_record_is_logged(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person("gone@x.com")
    world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.people[pid].deleted = True
    world.crm.remove_member(camp, pid)
    report = world.sync(cfg, "web")
    assert world.ma_emails(lst) == set()
    assert report.counts.get("removed") == 1


EXCLUSIVE = """
  - name: {name}
    from: {{connection: crm, campaign: {source}}}
    to: {{connection: ma, campaign: {target}}}
    exclusive: {policy}
"""


@pytest.mark.parametrize(
    ("second_policy", "lands_in"),
    [("keep_first", "Spring touch"), ("latest_wins", "Autumn touch")],
)
def test_exclusive_target_policy_decides_the_one_slot(world: World, second_policy: str, lands_in: str) -> None:
    c1, c2 = world.campaign("Spring"), world.campaign("Autumn")
    slots = {
        name: world.ma_list(name, ContainerKind.EXCLUSIVE_CAMPAIGN, family="prospect-campaign")
        for name in ("Spring touch", "Autumn touch")
    }
    pid = world.crm_person("both@x.com")
    world.crm.add_member(c1, pid)
    world.crm.add_member(c2, pid)
    world.ma_person("both@x.com")
    cfg = world.config(
        EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first")
        + EXCLUSIVE.format(name="autumn", source="Autumn", target="Autumn touch", policy=second_policy)
    )
    world.sync(cfg, "spring")
    report = world.sync(cfg, "autumn")
    assert {name: world.ma_emails(lid) for name, lid in slots.items()} == {
        name: ({"both@x.com"} if name == lands_in else set()) for name in slots
    }
    assert "exclusive_target" in _kinds(report)


def test_transient_failures_retry_then_dead_letter(world: World) -> None:
    from campaign_bridge.errors import TransientError

    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Responded")
    world.ma_person("a@x.com")
    cfg = world.config(MIRROR, defaults="defaults: {max_attempts: 2}")
    engine = world.engine(cfg)
    real_apply = engine.connectors["ma"].apply_changes

    def failing(*args, **kw):  # type: ignore[no-untyped-def]
        raise TransientError("503 from the target")

    engine.connectors["ma"].apply_changes = failing  # type: ignore[method-assign]
    first = engine.sync("web")
    assert first.status == "partial"
    world.clock.tick(60)
    second = engine.sync("web")
    assert "dead_letter" in _kinds(second)
    engine.connectors["ma"].apply_changes = real_apply  # type: ignore[method-assign]
    world.clock.tick(60)
    assert engine.sync("web").counts.get("added", 0) == 0  # dead items wait for `retry`
    world.store.requeue("web")
    world.clock.tick(60)
    assert engine.sync("web").counts.get("added") == 1
    assert world.ma_emails(lst) == {"a@x.com"}


def test_lease_prevents_two_workers_running_one_rule(world: World) -> None:
    from campaign_bridge.errors import LeaseHeldError
    from campaign_bridge.sync.engine import LEASE_SECONDS

    world.campaign("Webinar")
    world.ma_list("Nurture")
    cfg = world.config(MIRROR)
    from datetime import timedelta

    now = world.clock()
    assert world.store.try_lease("web", "other-host", now + timedelta(seconds=LEASE_SECONDS), now)
    with pytest.raises(LeaseHeldError, match="another worker"):
        world.engine(cfg).sync("web")


def test_merged_record_membership_follows_the_survivor(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    loser = world.crm_person("old@x.com")
    world.crm.add_member(camp, loser, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    survivor = world.crm_person("new@x.com")
    world.crm.people[loser].merged_into = survivor
    world.crm.people[loser].modified_at = world.clock()
    world.crm.add_member(camp, loser, "Responded")  # the member row is touched by the merge
    report = world.sync(cfg, "web")
    assert "record_merged" in _kinds(report)
    assert len(world.ma.members(lst)) == 1  # one person, not a duplicate


def test_a_held_plan_holds_only_its_removals_and_still_adds_newcomers(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ids = [world.crm_person(f"p{i}@x.com") for i in range(30)]
    for pid in ids:
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR + "    safety: {max_removals: 5}\n")
    world.sync(cfg, "web")
    for pid in ids[:20]:
        world.crm.remove_member(camp, pid)
    world.crm.add_member(camp, world.crm_person("new@x.com"), "Responded")

    report = world.sync(cfg, "web")

    assert report.status == "held"
    assert "removals held" in report.message
    assert "max_removals=5" in report.message
    assert world.ma_emails(lst) == {f"p{i}@x.com" for i in range(30)} | {"new@x.com"}
    assert report.counts.get("removed", 0) == 0


def test_a_restarted_run_writes_its_adds_while_it_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy that restarts the worker every few minutes must not starve a large first sync: a run
    that resumes one (its plan could be held: the rule owns members now) still writes as it reads."""
    for name in ("CHUNK", "FIRST_CHUNK", "EAGER_WRITE", "EAGER_BULK"):
        monkeypatch.setattr(pipeline, name, 10)
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for i in range(80):
        world.crm.add_member(camp, world.crm_person(f"p{i:02d}@x.com"), "Responded")
        world.ma_person(f"p{i:02d}@x.com")
    cfg = world.config(MIRROR)

    def run_until_read(records: int) -> RunReport:
        engine = world.engine(cfg)
        ma = engine.connectors["ma"]
        ma.write_batch_size = ma.lookup_batch_size = 10  # type: ignore[misc]
        read: list[int] = []
        engine.progress = lambda stage, done, total: read.append(done) if stage == "read" else None
        engine.should_stop = lambda: bool(read) and read[-1] >= records  # the worker is restarted
        report = engine.sync("web")
        world.clock.tick(60)
        return report

    first = run_until_read(30)
    assert first.status == "partial"
    after_first = len(world.ma_emails(lst))
    assert after_first > 0

    second = run_until_read(60)  # it re-reads the 30 it already did, then 30 more

    assert second.status == "partial"
    assert "while reading" in second.message
    assert len(world.ma_emails(lst)) > after_first  # progress, though it never reached the end of its read


def test_a_run_that_raises_unexpectedly_is_recorded_failed_not_left_running(world: World) -> None:
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com", token="s3cret-value"), "Responded")
    engine = world.engine(world.config(MIRROR))

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("s3cret-value")  # a bug, quoting what it was given

    engine.connectors["ma"].lookup_people = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        engine.sync("web")

    [run] = world.store.runs(rule="web")
    assert run["status"] == "failed"
    assert "unexpected KeyError" in run["error"]
    assert "s3cret" not in run["error"]
    assert world.store.lease_holder("web") is None  # and the lease is released


def test_a_run_left_running_by_a_killed_worker_is_closed_when_the_next_run_starts(world: World) -> None:
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("a@x.com"), "Responded")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process: a worker SIGKILLed mid-run
    dead = world.store.start_run("acme", "web", "sync", world.clock(), holder=f"{socket.gethostname()}:{gone.pid}:x")

    report = world.sync(world.config(MIRROR), "web")

    assert report.status == "ok"
    runs = {r["id"]: r for r in world.store.runs(rule="web")}
    assert runs[dead]["status"] == "failed"
    assert "killed or crashed" in runs[dead]["error"]
    assert runs[report.run_id]["status"] == "ok"


def test_a_sync_refuses_a_source_status_the_campaign_lacks_and_removes_nothing(world: World) -> None:
    """``validate`` catches it live; a sync run without validating must not take "selects nobody" for
    "everyone left" either."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for i in range(12):
        world.crm.add_member(camp, world.crm_person(f"p{i}@x.com"), "Responded")
    world.sync(world.config(MIRROR), "web")
    assert len(world.ma_emails(lst)) == 12

    typo = world.config(MIRROR.replace("member_status: [Responded]", "member_status: [Responded, Atended]"))
    with pytest.raises(FatalError, match="no member status 'Atended'"):
        world.sync(typo, "web")
    assert len(world.ma_emails(lst)) == 12
    assert world.store.runs(rule="web")[0]["status"] == "failed"


def _a_run_dies_removing_a(world: World) -> tuple[str, str, str, ClientConfig]:
    """a@x.com and b@x.com synced into the list; a leaves the source; the next run is killed right after
    the target removed a, before it recorded that. Returns the campaign, the list, a's id and the config."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    a, b = world.crm_person("a@x.com"), world.crm_person("b@x.com")
    for pid in (a, b):
        world.crm.add_member(camp, pid, "Responded")
    cfg = world.config(MIRROR + "    safety: {max_removals: 10, max_removal_fraction: 1.0}\n")
    world.sync(cfg, "web")
    world.crm.remove_member(camp, a)

    engine = world.engine(cfg)
    ma = engine.connectors["ma"]
    real = ma.apply_changes

    def removed_then_killed(container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        real(container, changes)
        raise KeyboardInterrupt  # the process dies after the target removed the member

    ma.apply_changes = removed_then_killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        engine.sync("web")
    world.clock.tick(60)
    assert world.ma_emails(lst) == {"b@x.com"}
    return camp, lst, a, cfg


def test_a_person_back_in_the_source_after_a_run_died_removing_them_is_added_again(world: World) -> None:
    """Found by the kill soak (seed 5210): a run killed after the target removed a member, before it
    recorded that, left the ledger saying "present"; the person came back to the source, and no later run
    added them again."""
    camp, lst, a, cfg = _a_run_dies_removing_a(world)

    world.crm.add_member(camp, a, "Responded")  # back in the source before the next run
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}


def test_a_member_a_person_adds_again_after_a_run_died_removing_it_is_never_removed(world: World) -> None:
    """Found by the kill soak (seed 5180): the removal's intent must not make a person's re-add the rule's."""
    _, lst, _, cfg = _a_run_dies_removing_a(world)

    world.ma.add_member(lst, next(p for p, x in world.ma.people.items() if x.email == "a@x.com"))  # by hand
    report = world.sync(cfg, "web")

    assert world.ma_emails(lst) == {"a@x.com", "b@x.com"}
    assert report.counts.get("removed", 0) == 0
