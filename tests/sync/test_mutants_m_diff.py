"""The differ's promises a user sees that the earlier diff tests left open (docs/testing.md, "Every survivor,
explained"): a status is not moved sideways on a later run, a status the target renamed since is set anew,
a retried add names the record the ledger holds, and explain finds a person by the address they have now
through each decision the differ makes about them."""

from __future__ import annotations

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.mapping.model import MemberStatus
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import Kind, RunReport
from tests.sync.test_mutants_diff import EXCLUSIVE, TWO_RULES, _slots
from tests.sync.test_mutants_k_statuses import _event
from tests.sync.test_mutants_m_pipeline import _first_write_fails
from tests.sync.test_mutants_pipeline import MIRROR, _seed
from tests.sync.test_mutants_record import RAISE
from tests.sync.world import World


def _collisions(report: RunReport) -> list[str]:
    return [d.detail for d in report.decisions if d.kind is Kind.STATUS_COLLISION]


def test_a_member_the_rule_put_at_one_status_is_not_moved_sideways_to_another_of_its_step(world: World) -> None:
    # "No Show" and "Attended" share a step (a Marketo channel). The rule put ada at "No Show"; it now says
    # "Attended": a full sync leaves her where she is and says why, as a first sync does for a member put
    # there by hand (tests/sync/test_mutants_k_statuses.py).
    event = _event(world)
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm_person("ada@x.com")
    first = world.sync(world.config(RAISE.format(name="attended", source="Attendees", status="No Show")), "attended")
    assert first.counts.get("added") == 1
    assert world.crm_members(event) == {"ada@x.com": "No Show"}

    cfg = world.config(RAISE.format(name="attended", source="Attendees", status="Attended"))
    report = world.sync(cfg, "attended", full=True)

    assert report.status == "ok"
    assert world.crm_members(event) == {"ada@x.com": "No Show"}
    assert report.counts.get("status_changed", 0) == 0
    assert _collisions(report) == ["kept 'No Show' over 'Attended': a member status never moves backwards"]


def test_a_status_the_target_renamed_since_is_set_anew_without_a_conflict(world: World) -> None:
    # The rule put ada in at "Invited", which the CRM admin then renamed "Sent" (a Salesforce member status
    # can be renamed); the rule now says "Sent". The ledger's "Invited" is no status of the campaign any
    # more, so it ranks below every one: the rule sets "Sent" and records it, with no "kept ... over".
    event = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    ada = world.crm_person("ada@x.com")
    world.sync(world.config(RAISE.format(name="event", source="Attendees", status="Invited")), "event")
    assert world.crm_members(event) == {"ada@x.com": "Invited"}
    container = world.crm.containers[event]
    container.statuses[0] = MemberStatus("Sent", responded=False, default=True, rank=1)
    container.members[ada].status = "Sent"

    cfg = world.config(RAISE.format(name="event", source="Attendees", status="Sent"))
    report = world.sync(cfg, "event", full=True)

    assert report.status == "ok"
    assert _collisions(report) == []
    assert world.crm_members(event) == {"ada@x.com": "Sent"}
    (entry,) = explain(world.store, cfg, "ada@x.com")
    assert entry["verdict"] == "in crm:Event with status 'Sent'; added by this rule"


def test_explain_finds_a_member_kept_at_a_higher_status_by_the_address_they_have_now(world: World) -> None:
    # ada joined at "Attended"; then her MA address changed and the rule now says "Registered". The run keeps
    # "Attended" and logs why under her new address, which the state store never stored for her person:
    # explain by that address must still find her and the rule's row.
    event = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    reg = world.ma_list("Registered")
    pid = world.ma_person("ada@x.com")
    world.ma.add_member(reg, pid)
    world.crm_person("ada@x.com")
    world.sync(world.config(RAISE.format(name="event", source="Registered", status="Attended")), "event")
    assert world.crm_members(event) == {"ada@x.com": "Attended"}
    world.ma.people[pid].email = "ada.new@x.com"
    world.ma.people[pid].modified_at = world.clock()

    cfg = world.config(RAISE.format(name="event", source="Registered", status="Registered"))
    report = world.sync(cfg, "event", full=True)

    assert _collisions(report) == ["kept 'Attended' over 'Registered': a member status never moves backwards"]
    (entry,) = explain(world.store, cfg, "ada.new@x.com")
    assert entry["verdict"] == "in crm:Event with status 'Attended'; added by this rule"
    assert [d["kind"] for d in entry["decisions"]] == ["status_collision"]


def test_the_plan_of_a_failed_add_names_the_target_record_it_goes_to(world: World) -> None:
    # The first sync found ada's MA record, but the write failed; `plan` (which looks nothing up) must
    # show the retry going to that record, as the next sync will send it.
    _, lst, _ = _seed(world, 1)
    cfg = world.config(MIRROR)
    engine = world.engine(cfg)
    _first_write_fails(engine.connectors["ma"])
    failed = engine.sync("web")
    world.clock.tick(60)
    assert failed.counts.get("failed") == 1
    assert world.ma_emails(lst) == set()

    plan = world.engine(cfg).plan("web").as_json()

    ma = world.ma.person_id("p000@x.com")
    assert plan["changes"]["adds"] == [
        {"action": "add", "email": "p000@x.com", "status": None, "target": f"ma:{world.ma.people[ma].kind}:{ma}"}
    ]


def _verdicts(world: World, cfg: ClientConfig, email: str) -> dict[str, str]:
    return {entry["rule"]: entry["verdict"] for entry in explain(world.store, cfg, email)}


def test_another_rules_status_the_target_renamed_since_does_not_outrank_this_rules(world: World) -> None:
    # Event's statuses start at rank 0, as Dynamics' response codes do ("Sent" stands for "Member"). Rule
    # `high` put ada in at "Responded", which the admin then renamed "Attended". Rule `low` (status "Sent")
    # finds her: the other rule's "Responded" is no status of the campaign any more, so it outranks nothing,
    # and the add goes out; the target answers she is already there at a higher status.
    event = world.campaign("Event")
    container = world.crm.containers[event]
    container.statuses = [
        MemberStatus(s.label, s.responded, s.default, rank) for rank, s in enumerate(container.statuses)
    ]
    pid = world.crm_person("ada@x.com")
    for name in ("Attendees", "Invitees"):
        world.crm.add_member(world.campaign(name), pid, "Sent")
    cfg = world.config(TWO_RULES)
    world.sync(cfg, "high")
    assert world.crm_members(event) == {"ada@x.com": "Responded"}
    container.statuses[1] = MemberStatus("Attended", responded=True, default=False, rank=1)
    container.members[pid].status = "Attended"

    report = world.sync(cfg, "low")

    assert report.counts.get("already_member") == 1
    assert _collisions(report) == ["kept 'Attended' over 'Sent': a member status never moves backwards"]
    assert world.crm_members(event) == {"ada@x.com": "Attended"}


def test_explain_finds_another_rules_member_by_the_address_they_have_now(world: World) -> None:
    # `high` put ada in at "Responded"; her CRM address then changed, and `low`, which would set "Sent",
    # logs the collision under the new one. Explain by the new address still shows `high`'s member.
    event = world.campaign("Event")
    pid = world.crm_person("ada@x.com")
    for name in ("Attendees", "Invitees"):
        world.crm.add_member(world.campaign(name), pid, "Sent")
    cfg = world.config(TWO_RULES)
    world.sync(cfg, "high")
    world.crm.people[pid].email = "ada.new@x.com"
    world.crm.people[pid].modified_at = world.clock()

    report = world.sync(cfg, "low")

    assert _collisions(report) == ["rule 'high' set 'Responded', which outranks 'Sent': kept 'Responded'"]
    assert world.crm_members(event) == {"ada.new@x.com": "Responded"}
    assert _verdicts(world, cfg, "ada.new@x.com")["high"] == "in crm:Event with status 'Responded'; added by this rule"


def test_explain_finds_a_person_kept_in_their_slot_by_the_address_they_have_now(world: World) -> None:
    # `spring` holds the person's exclusive slot; their CRM address then changed, and `autumn` (keep_first)
    # leaves them where they are, logged under the new address. Explain by it still shows `spring`'s member.
    slots = _slots(world)
    cfg = world.config(
        EXCLUSIVE.format(name="spring", source="Spring", target="Spring touch", policy="keep_first", priority=1)
        + EXCLUSIVE.format(name="autumn", source="Autumn", target="Autumn touch", policy="keep_first", priority=2)
    )
    world.sync(cfg, "spring")
    pid = world.crm.person_id("both@x.com")
    world.crm.people[pid].email = "both.new@x.com"
    world.crm.people[pid].modified_at = world.clock()

    report = world.sync(cfg, "autumn")

    assert [d.email for d in report.decisions if d.kind is Kind.EXCLUSIVE_TARGET] == ["both.new@x.com"]
    assert world.ma_emails(slots["Spring touch"]) == {"both@x.com"}
    assert _verdicts(world, cfg, "both.new@x.com")["spring"] == "in ma:Spring touch; added by this rule"
