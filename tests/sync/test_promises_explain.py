"""``explain`` answers an admin's "why is (or isn't) this person in the list?" from what the runs did:
each rule's verdict word for word, and the decisions behind it."""

from __future__ import annotations

from campaign_bridge.mapping.model import ChangeOutcome, OutcomeState
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.store.states import LedgerState
from tests.sync.world import World

RULES = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
  - name: other
    from: {connection: crm, campaign: Other}
    to: {connection: ma, list: Elsewhere}
"""


def _verdicts(world: World, config, email: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {entry["rule"]: entry["verdict"] for entry in explain(world.store, config, email)}


def test_explain_says_who_added_a_member_and_who_was_already_there(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.campaign("Other")
    world.ma_list("Elsewhere")
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Responded")
    world.ma_person("ada@x.com")
    world.crm.add_member(camp, world.crm_person("bob@x.com"), "Responded")
    world.ma.add_member(lst, world.ma_person("bob@x.com"))  # put in the list by hand first
    world.crm_person("cy@x.com")
    cfg = world.config(RULES)
    world.sync(cfg, "web")

    assert _verdicts(world, cfg, "ADA@X.com") == {
        "web": "in ma:Nurture; added by this rule",
        "other": "not in ma:Elsewhere: not in this rule's source (crm:Other)",
    }
    assert _verdicts(world, cfg, "bob@x.com")["web"] == "in ma:Nurture; was already there (not added by this rule)"
    assert _verdicts(world, cfg, "cy@x.com")["web"] == "not in ma:Nurture: not in this rule's source (crm:Webinar)"
    (entry, _) = explain(world.store, cfg, "ada@x.com")
    assert [(d["kind"], d["detail"]) for d in entry["decisions"]] == [("added", "added")]
    assert entry["target"] == "ma:Nurture"


def test_explain_gives_the_status_and_the_error_of_a_member_that_failed(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.ma.add_member(att, world.ma_person("bob@x.com"))
    world.crm_person("ada@x.com")
    world.crm_person("bob@x.com")
    cfg = world.config(
        """
  - name: att
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
""",
        defaults="defaults: {max_attempts: 1}",
    )
    engine = world.engine(cfg)
    real = engine.connectors["crm"].apply_changes

    def fail_bob(container, changes):  # type: ignore[no-untyped-def]
        def bob(c) -> bool:  # type: ignore[no-untyped-def]
            return world.crm.people[c.target.id].email == "bob@x.com"

        done = iter(real(container, [c for c in changes if not bob(c)]))
        return [
            ChangeOutcome(c, OutcomeState.FAILED, "UNAVAILABLE", "503 from the CRM") if bob(c) else next(done)
            for c in changes
        ]

    engine.connectors["crm"].apply_changes = fail_bob  # type: ignore[method-assign]
    engine.sync("att")
    assert camp
    assert _verdicts(world, cfg, "ada@x.com") == {"att": "in crm:Event with status 'Attended'; added by this rule"}
    assert _verdicts(world, cfg, "bob@x.com") == {"att": "not in crm:Event: dead (UNAVAILABLE: 503 from the CRM)"}
    kinds = [d["kind"] for d in explain(world.store, cfg, "bob@x.com")[0]["decisions"]]
    assert kinds == ["dead_letter"]


def test_explain_says_why_a_person_with_no_target_record_is_not_there(world: World) -> None:
    world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("stranger@x.com"))
    cfg = world.config(
        """
  - name: att
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
    match: {create_missing: skip}
"""
    )
    world.sync(cfg, "att")
    (entry,) = explain(world.store, cfg, "stranger@x.com")
    assert entry["verdict"] == (
        "not in crm:Event: rejected (no record with this email in the target, and the rule says create_missing: skip)"
    )
    assert [d["kind"] for d in entry["decisions"]] == ["unmatched_person"]


def test_explain_tells_a_run_stopped_mid_change_and_a_person_kept_out_by_another_rule(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    reg, att = world.ma_list("Registrants"), world.ma_list("Attendees")
    for email in ("ada@x.com", "bob@x.com"):
        person = world.ma_person(email)
        world.ma.add_member(reg, person)
        world.ma.add_member(att, person)
        world.crm_person(email)
    cfg = world.config(
        """
  - name: attended
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
  - name: registered
    from: {connection: ma, list: Registrants}
    to: {connection: crm, campaign: Event, status: Registered}
"""
    )
    world.sync(cfg, "attended")
    world.sync(cfg, "registered")
    assert camp
    verdicts = _verdicts(world, cfg, "ada@x.com")
    assert verdicts["registered"] == "not in crm:Event: see the decisions below"
    (_, entry) = explain(world.store, cfg, "ada@x.com")
    assert [d["kind"] for d in entry["decisions"]] == ["status_collision"]
    assert entry["decisions"][0]["at"] == world.store.decisions(rule="registered")[0]["at"].isoformat()
    assert isinstance(entry["decisions"][0]["run_id"], int)

    rows = world.store.ledger("attended", world.store.ledger_keys("attended"))
    by_email = {world.crm.people[r.target_record_id].email: r for r in rows.values()}
    world.store.write_ledger(
        [
            by_email["ada@x.com"]._replace(state=LedgerState.PENDING),
            by_email["bob@x.com"]._replace(state=LedgerState.REMOVING),
        ]
    )
    assert _verdicts(world, cfg, "ada@x.com")["attended"] == (
        "maybe in crm:Event: a run stopped while adding this person; the next run confirms it"
    )
    assert _verdicts(world, cfg, "bob@x.com")["attended"] == (
        "maybe in crm:Event: a run stopped while removing this person; the next run finishes it"
    )
