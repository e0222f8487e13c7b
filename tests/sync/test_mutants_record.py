"""What a run records of each outcome, as a user reads it: the counts a report gives (refused, removed,
raised), a removal the target answers "already gone", and a member found already there at a lower
status, raised once, with what the log says."""

from __future__ import annotations

from campaign_bridge.sync.plan import Kind
from tests.sync.world import World

MIRROR = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
"""

RAISE = """
  - name: {name}
    from: {{connection: ma, list: {source}}}
    to: {{connection: crm, campaign: Event, status: {status}}}
    match: {{prefer: contact, create_missing: skip}}
"""


def test_a_refused_member_is_counted_rejected_and_not_retried(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    for email in ("ann@x.com", "bob@x.com"):
        world.crm.add_member(camp, world.crm_person(email), "Responded")
        world.ma_person(email)
    world.ma.containers[lst].reject["bob@x.com"] = ("INVALID_EMAIL", "blocked by a validation rule")
    cfg = world.config(MIRROR)

    report = world.sync(cfg, "web")

    assert report.counts.get("rejected") == 1
    assert report.counts.get("added") == 1
    assert report.counts.get("failed", 0) == 0
    assert world.ma_emails(lst) == {"ann@x.com"}
    assert world.sync(cfg, "web", full=True).counts.get("rejected", 0) == 0  # a refusal is final


def test_a_member_removed_by_hand_before_the_rule_removes_them_is_counted_removed_and_can_come_back(
    world: World,
) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    pid = world.crm_person("ann@x.com")
    world.crm.add_member(camp, pid, "Responded")
    world.ma_person("ann@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    (member,) = world.ma.members(lst)
    world.ma.remove_member(lst, member)  # someone took her out of the list by hand
    world.crm.remove_member(camp, pid)

    gone = world.sync(cfg, "web")
    assert gone.counts.get("removed") == 1
    removed = [(d.email, d.detail, d.container) for d in gone.decisions if d.kind is Kind.REMOVED]
    assert removed == [("ann@x.com", "removed: no longer in the source", "ma:Nurture")]

    world.crm.add_member(camp, pid, "Responded")
    back = world.sync(cfg, "web")
    assert back.counts.get("added") == 1
    assert world.ma_emails(lst) == {"ann@x.com"}


def test_a_member_already_there_at_a_lower_status_is_raised_and_the_log_says_so(world: World) -> None:
    camp = world.campaign("Event", [("Invited", False), ("Registered", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("ada@x.com"))
    world.crm.add_member(camp, world.crm_person("ada@x.com"), "Invited")  # put there by hand
    cfg = world.config(RAISE.format(name="attended", source="Attendees", status="Attended"))

    report = world.sync(cfg, "attended")

    assert world.crm_members(camp) == {"ada@x.com": "Attended"}
    assert report.counts.get("already_member") == 1
    assert report.counts.get("status_changed") == 1
    details = [(d.kind, d.detail) for d in report.decisions if d.email == "ada@x.com"]
    assert details == [
        (Kind.ALREADY_MEMBER, "already a member (not added by this rule, so never removed by it)"),
        (Kind.STATUS_CHANGED, "status_changed with status 'Attended'"),
    ]
    assert report.status == "ok"


def test_a_person_with_no_target_record_is_listed_rejected_with_when_and_why(world: World) -> None:
    camp, _ = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("ann@x.com"), "Responded")  # not in the MA
    cfg = world.config(MIRROR + "    match: {create_missing: skip}\n")
    started = world.clock()

    report = world.sync(cfg, "web")

    assert report.counts.get("unmatched") == 1
    # the console's dead-letter page: who, why, and when the run gave up on them
    (row,) = world.store.dead_letters("web")
    assert (row["email"], row["state"], row["last_error"]) == (
        "ann@x.com",
        "rejected",
        "no record with this email in the target, and the rule says create_missing: skip",
    )
    assert row["written_at"].replace(tzinfo=None) == started.replace(tzinfo=None)  # SQLite keeps no zone


def test_a_refused_member_is_listed_with_when_the_target_refused_them(world: World) -> None:
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person("bob@x.com"), "Responded")
    world.ma_person("bob@x.com")
    world.ma.containers[lst].reject["bob@x.com"] = ("INVALID_EMAIL", "blocked by a validation rule")
    started = world.clock()

    world.sync(world.config(MIRROR), "web")

    (row,) = world.store.dead_letters("web")
    assert (row["email"], row["state"]) == ("bob@x.com", "rejected")
    assert row["written_at"].replace(tzinfo=None) == started.replace(tzinfo=None)
