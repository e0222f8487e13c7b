"""Identity as a user meets it (``sync/identity.py``), found by mutation testing.

Source side: a record the crosswalk knows is its person whatever its address says now, a merged or
converted record joins its survivor's person, and a conversion or merge is logged once, under the
person's address, with the crosswalk remembering the old record as converted or merged. Target side:
a CRM target's ``create_missing`` defaults to ``skip``, people are looked up in whole batches, and a
person with no address is refused in words an admin can read.
"""

from __future__ import annotations

from collections.abc import Sequence

from campaign_bridge.mapping.model import PersonRecord
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.plan import Decision, Kind
from tests.sync.test_mutants_h_diff import ADDITIVE, MIRROR
from tests.sync.world import World

TO_CRM = """
  - name: back
    from: {connection: ma, list: Attendees}
    to: {connection: crm, campaign: Event, status: Attended}
"""


def test_a_crm_target_without_create_missing_creates_no_crm_record(world: World) -> None:
    """docs/rules.md: ``create_missing`` defaults to ``skip`` for CRM targets (``contact`` only for MA)."""
    camp = world.campaign("Event", [("Invited", False), ("Attended", True)])
    att = world.ma_list("Attendees")
    world.ma.add_member(att, world.ma_person("nobody@x.com"))

    report = world.sync(world.config(TO_CRM), "back")

    assert report.status == "ok", report.message
    assert world.crm.members(camp) == {}
    assert [p.email for p in world.crm.people.values()] == []
    assert report.counts.get("unmatched") == 1
    said = [(d.kind, d.email, d.detail) for d in report.decisions]
    assert said == [
        (
            Kind.UNMATCHED_PERSON,
            "nobody@x.com",
            "no record with this email in the target, and the rule says create_missing: skip",
        )
    ]


def _kinds(decisions: Sequence[Decision], kind: Kind) -> list[tuple[str | None, str]]:
    """(email, detail) of each decision of ``kind``: what ``conflicts`` and ``sync --json`` show."""
    return [(d.email, d.detail) for d in decisions if d.kind is kind]


def test_a_source_record_whose_address_changed_is_still_its_person(world: World) -> None:
    """The crosswalk knows the record: a new address in the source is not a new person to add (and the
    old address is not one to remove)."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    assert world.ma_emails(lst) == {"ada@x.com"}
    world.crm.people[ada].email = "ada.new@x.com"
    world.crm.people[ada].modified_at = world.clock()

    report = world.sync(cfg, "web", full=True)

    assert report.status == "ok", report.message
    assert (report.counts.get("added", 0), report.counts.get("removed", 0)) == (0, 0)
    assert [d for d in report.decisions if d.kind is Kind.CREATED_PERSON] == []
    assert world.ma_emails(lst) == {"ada@x.com"}
    assert [p.email for p in world.ma.people.values()] == ["ada@x.com"]


def test_a_merged_record_read_for_the_first_time_joins_its_survivors_person(world: World) -> None:
    """A merge the source has not folded yet: the loser, under another address, is a member too. It is
    the survivor's person (nothing to add), the merge is logged under its address, and the console's
    records page shows the loser as merged."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    survivor = world.crm_person("ada@x.com")
    world.crm.add_member(camp, survivor, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    loser = world.crm_person("ada.other@x.com")
    world.crm.people[loser].merged_into = survivor
    world.crm.add_member(camp, loser, "Responded")

    report = world.sync(cfg, "web")

    assert report.status == "ok", report.message
    assert report.counts.get("added", 0) == 0
    assert [d for d in report.decisions if d.kind is Kind.CREATED_PERSON] == []
    assert world.ma_emails(lst) == {"ada@x.com"}
    assert _kinds(report.decisions, Kind.RECORD_MERGED) == [
        (
            "ada.other@x.com",
            f"crm:Contact:{loser} is now crm:Contact:{survivor}; membership follows crm:Contact:{survivor}",
        )
    ]
    crm = sorted((r["record_id"], r["kind"], r["state"]) for r in world.store.records_of_email("ada@x.com")["crm"])
    assert crm == sorted([(survivor, "Contact", "active"), (loser, "Contact", "merged")])


def test_a_lead_conversion_is_logged_once_under_the_persons_address(world: World) -> None:
    """The run that reads the conversion logs it; the next runs, which read the converted lead again
    (its stamp is within the look-back), do not. The console shows the lead as converted."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    lead = world.crm_person("ada@x.com", "Lead")
    world.crm.add_member(camp, lead, "Responded")
    world.ma_person("ada@x.com")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    contact = world.crm_person("ada@x.com", "Contact")
    world.crm.convert(lead, contact)

    converted = world.sync(cfg, "web")
    again = world.sync(cfg, "web")

    assert world.ma_emails(lst) == {"ada@x.com"}
    follows = f"crm:Lead:{lead} is now crm:Contact:{contact}; membership follows crm:Contact:{contact}"
    assert _kinds(converted.decisions, Kind.LEAD_CONVERTED) == [("ada@x.com", follows)]
    assert _kinds(again.decisions, Kind.LEAD_CONVERTED) == []
    assert again.read > 0  # the converted lead was read again, and not logged again
    crm = sorted((r["record_id"], r["kind"], r["state"]) for r in world.store.records_of_email("ada@x.com")["crm"])
    assert crm == sorted([(contact, "Contact", "active"), (lead, "Lead", "converted")])


def test_explain_finds_a_member_by_the_address_their_merged_record_has_now(world: World) -> None:
    """A member's record changed address and was merged into a record with the new address: the merge,
    logged under the new address, is what ties that address to the person, so ``explain`` by it finds
    the membership."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Responded")
    cfg = world.config(MIRROR)
    world.sync(cfg, "web")
    world.crm.people[ada].email = "ada.new@x.com"
    world.crm.people[ada].merged_into = world.crm_person("ada.new@x.com")
    world.crm.people[ada].modified_at = world.clock()

    report = world.sync(cfg, "web", full=True)

    assert [(d.kind, d.email) for d in report.decisions] == [(Kind.RECORD_MERGED, "ada.new@x.com")]
    assert world.ma_emails(lst) == {"ada@x.com"}
    (said,) = explain(world.store, cfg, "ada.new@x.com")
    assert said["verdict"] == "in ma:Nurture; added by this rule"
    assert [d["kind"] for d in said["decisions"]] == ["record_merged"]


def test_explain_finds_a_kept_member_by_the_address_their_deleted_record_had_last(world: World) -> None:
    """An additive rule keeps a member whose source record is deleted; the deletion, logged under the
    record's last address, ties that address to the person for ``explain``."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    ada = world.crm_person("ada@x.com")
    world.crm.add_member(camp, ada, "Responded")
    cfg = world.config(ADDITIVE)
    world.sync(cfg, "web")
    world.crm.people[ada].email = "ada.new@x.com"
    world.crm.people[ada].deleted = True
    world.crm.people[ada].modified_at = world.clock()

    report = world.sync(cfg, "web", full=True)

    assert _kinds(report.decisions, Kind.RECORD_DELETED) == [
        ("ada.new@x.com", f"crm:Contact:{ada} was deleted in the source")
    ]
    assert world.ma_emails(lst) == {"ada@x.com"}
    (said,) = explain(world.store, cfg, "ada.new@x.com")
    assert said["verdict"] == "in ma:Nurture; added by this rule"
    assert [d["kind"] for d in said["decisions"]] == ["record_deleted"]


def test_a_first_sync_looks_its_people_up_in_whole_batches(world: World) -> None:
    """200 people, all already in the MA (which looks people up 100 at a time): two lookups, every
    person found (no contact created twice), every person in the list."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    emails = [f"p{n:03d}@x.com" for n in range(200)]
    for email in emails:
        world.crm.add_member(camp, world.crm_person(email), "Responded")
        world.ma_person(email)
    engine = world.engine(world.config(MIRROR))
    ma = engine.connectors["ma"]
    asked: list[list[str]] = []
    real = ma.lookup_people

    def counted(batch: Sequence[str]) -> dict[str, list[PersonRecord]]:
        asked.append(list(batch))
        return real(batch)

    ma.lookup_people = counted  # type: ignore[method-assign]
    report = engine.sync("web")

    assert report.status == "ok", report.message
    assert world.ma_emails(lst) == set(emails)
    assert [d for d in report.decisions if d.kind is Kind.CREATED_PERSON] == []
    assert len(world.ma.people) == 200
    assert sorted(e for batch in asked for e in batch) == emails
    assert [len(batch) for batch in asked] == [100, 100]
    # what the run report (and the vendor's quota) counts: a handful of calls, not one per person
    assert report.api_calls["ma"] < 10


def test_a_person_without_an_address_is_refused_saying_so(world: World) -> None:
    """The words an admin reads in ``conflicts`` and on the console's dead-letter page."""
    camp, lst = world.campaign("Webinar"), world.ma_list("Nurture")
    world.crm.add_member(camp, world.crm_person(None), "Responded")

    report = world.sync(world.config(MIRROR), "web")

    assert world.ma_emails(lst) == set()
    why = "the person has no email address to match on"
    assert _kinds(report.conflicts, Kind.UNMATCHED_PERSON) == [(None, why)]
    assert [row["last_error"] for row in world.store.dead_letters("web")] == [why]
