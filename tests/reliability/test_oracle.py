"""The soak's oracle can fail: each check catches what it is there to catch (a target shaped by hand)."""

from __future__ import annotations

from tests.reliability.oracle import Oracle, SourcePerson
from tests.reliability.systems import Member


def _oracle(mode: str = "mirror", *, crm_target: bool = True) -> Oracle:
    people = [SourcePerson("s1", "a@x.test", "Sent"), SourcePerson("s2", " B@X.test", "Sent")]
    return Oracle(mode, crm_target, False, "lead", frozenset(), people, existed={"a@x.test"})


RECORDS = {"a@x.test": ["c1"], "b@x.test": ["c2"], "h@x.test": ["c3"]}


def test_the_settled_target_passes() -> None:
    o = _oracle()
    assert o.hand_added({"c3": "Attended"}, []) == {"c3": "Attended"}
    members = [Member("c1", "Responded"), Member("c2", "Responded"), Member("c3", "Attended")]
    assert o.settled(members, RECORDS) == []


def test_a_hand_added_member_the_rule_also_wanted_is_never_removed() -> None:
    o = _oracle()
    o.hand_added({"c1": "Sent"}, [])
    o.run_starts()
    o.people[0].status = None  # left the source
    problems = o.settled([Member("c2", "Responded")], RECORDS)
    assert any("removed members a person added" in p and "c1" in p for p in problems)


def test_a_hand_add_of_a_member_already_there_changes_nothing() -> None:
    o = _oracle()
    assert o.hand_added({"c1": "Sent"}, [Member("c1", "Responded")]) == {}
    assert o.hand == {}


def test_a_membership_twice_and_a_person_created_twice_are_caught() -> None:
    o = _oracle()
    members = [Member("c1", "Responded"), Member("c1", "Responded"), Member("c2", "Responded")]
    problems = o.settled(members, {**RECORDS, "b@x.test": ["c2", "c9"]})
    assert any("members twice" in p for p in problems)
    assert any("created twice" in p for p in problems)


def test_missing_extra_and_wrong_status_are_caught() -> None:
    o = _oracle()
    o.hand_added({"c3": "Attended"}, [])
    problems = o.settled([Member("c1", "Sent"), Member("c3", "Attended"), Member("c9", "Responded")], RECORDS)
    assert any("missing members" in p and "c2" in p for p in problems)
    assert any("nobody wants" in p and "c9" in p for p in problems)
    assert any("c1: status 'Sent'" in p for p in problems)


def test_additive_may_keep_what_it_once_wanted_but_nothing_else() -> None:
    o = _oracle("additive")
    o.run_starts()
    o.people[0].status = None
    members = [Member("c1", "Responded"), Member("c2", "Responded")]
    assert o.settled(members, RECORDS) == []
    assert any("nobody wants" in p for p in o.settled([*members, Member("c3", "Sent")], RECORDS))
