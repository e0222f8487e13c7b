"""The connector contract (``connectors/base.py``) as tests: the four verbs, containers, statuses,
incremental reads and people creation, asserted against a system's ground truth through its harness.

Methods of ``CoreContract``; ``campaign_bridge.testing.contract_suite`` runs them with the rest.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign_bridge.connectors.base import SupportsCreatePeople, Watermark
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import Change, ChangeAction, OutcomeState, PersonDraft, RecordRef
from campaign_bridge.mapping.semantics import Role
from campaign_bridge.testing.harness import Harness


def _seed(h: Harness, n: int, container: str | None = None) -> list[RecordRef]:
    refs = []
    for i in range(n):
        ref = h.add_person(f"person{i}@example.com", first_name=f"P{i}", last_name="Contract")
        if container is not None:
            h.add_member(container, ref)
        refs.append(ref)
    return refs


class CoreContract:
    """The verbs every connector has; each test takes the ``harness`` fixture of the system under test."""

    def test_lists_containers_with_capabilities(self, harness: Harness) -> None:
        cid = harness.add_container(
            "Spring Webinar", statuses=[("Invited", False), ("Registered", False), ("Attended", True)]
        )
        found = {c.id: c for c in harness.connector().list_containers()}
        assert cid in found
        c = found[cid]
        assert c.name == "Spring Webinar"
        assert c.writable
        if harness.role is Role.CRM:
            assert [s.label for s in c.statuses] == ["Invited", "Registered", "Attended"]
            assert c.default_status is not None
            assert c.default_status.label == "Invited"
            assert [s.rank for s in c.statuses] == sorted(s.rank for s in c.statuses)
            assert c.status("attended") is not None
            attended = c.status("Attended")
            assert attended is not None
            assert attended.responded

    def test_find_container_by_name_or_id_and_explains_misses(self, harness: Harness) -> None:
        cid = harness.add_container("Q4 Nurture")
        conn = harness.connector()
        assert conn.find_container(harness.container_key, "Q4 Nurture").id == cid
        assert conn.find_container(harness.container_key, cid).name == "Q4 Nurture"
        with pytest.raises(FatalError, match="did you mean 'Q4 Nurture'"):
            conn.find_container(harness.container_key, "Q4 Nurtur")

    def test_full_read_returns_exactly_the_members(self, harness: Harness) -> None:
        cid = harness.add_container("Full read")
        members = _seed(harness, 450, cid)
        _seed(harness, 3)  # not members
        conn = harness.connector()
        container = conn.find_container(harness.container_key, cid)
        rows = list(conn.read_members(container))
        assert sorted(r.person.ref.id for r in rows) == sorted(m.id for m in members)
        assert all(r.person.email and r.person.email.endswith("@example.com") for r in rows)
        assert not any(r.removed for r in rows)

    def test_full_read_reports_member_status(self, harness: Harness) -> None:
        if harness.role is not Role.CRM:
            pytest.skip("lists have no member status")
        cid = harness.add_container("Statuses", statuses=[("Sent", False), ("Responded", True)])
        a, b = harness.add_person("a@example.com"), harness.add_person("b@example.com")
        harness.add_member(cid, a, "Sent")
        harness.add_member(cid, b, "Responded")
        conn = harness.connector()
        rows = {r.person.ref.id: r.status for r in conn.read_members(conn.find_container("campaign", cid))}
        assert rows == {a.id: "Sent", b.id: "Responded"}

    def test_incremental_read_sees_changes_and_removals_since_watermark(self, harness: Harness) -> None:
        conn = harness.connector()
        if not conn.reads_incrementally:
            pytest.skip(f"{conn.system} reads members fully only")
        cid = harness.add_container("Incremental")
        old = _seed(harness, 5, cid)
        container = conn.find_container(harness.container_key, cid)
        first = list(conn.read_members(container))
        mark = max(r.modified_at for r in first if r.modified_at is not None)
        harness.tick(5)
        new = harness.add_person("late@example.com")
        harness.add_member(cid, new)
        harness.remove_member(cid, old[0])
        rows = list(conn.read_members(container, since=Watermark(mark + timedelta(seconds=1))))
        seen = {(r.person.ref.id, r.removed) for r in rows}
        assert (new.id, False) in seen
        if conn.sees_removals_incrementally:
            assert (old[0].id, True) in seen
        assert not any(pid in {o.id for o in old[1:]} for pid, _ in seen)

    def test_lookup_people_by_email_is_case_insensitive_and_escaped(self, harness: Harness) -> None:
        ada = harness.add_person("Ada.Lovelace@Example.com")
        quote = harness.add_person("o'brien@example.com")
        harness.add_person("obrien@example.com")
        conn = harness.connector()
        found = conn.lookup_people(["ada.lovelace@example.com", "o'brien@example.com", "nobody@example.com"])
        assert [r.ref.id for r in found["ada.lovelace@example.com"]] == [ada.id]
        assert [r.ref.id for r in found["o'brien@example.com"]] == [quote.id]
        assert "nobody@example.com" not in found

    def test_lookup_people_takes_a_full_batch(self, harness: Harness) -> None:
        conn = harness.connector()
        n = conn.lookup_batch_size
        refs = [harness.add_person(f"batch{i}@example.com") for i in range(n)]
        found = conn.lookup_people([f"batch{i}@example.com" for i in range(n)])
        assert {r.ref.id for recs in found.values() for r in recs} == {r.id for r in refs}

    def test_apply_add_remove_is_idempotent_with_outcomes(self, harness: Harness) -> None:
        cid = harness.add_container("Writes")
        a, b = harness.add_person("w1@example.com"), harness.add_person("w2@example.com")
        conn = harness.connector()
        container = conn.find_container(harness.container_key, cid)
        status = container.default_status.label if container.has_status and container.default_status else None
        adds = [Change(ChangeAction.ADD, a, status), Change(ChangeAction.ADD, b, status)]
        assert [o.state for o in conn.apply_changes(container, adds)] == [OutcomeState.APPLIED] * 2
        assert set(harness.members(cid)) == {a.id, b.id}
        again = conn.apply_changes(container, adds)
        assert [o.state for o in again] == [OutcomeState.ALREADY_PRESENT] * 2
        removal = [Change(ChangeAction.REMOVE, a)]
        assert [o.state for o in conn.apply_changes(container, removal)] == [OutcomeState.APPLIED]
        assert set(harness.members(cid)) == {b.id}
        assert [o.state for o in conn.apply_changes(container, removal)] == [OutcomeState.ALREADY_ABSENT]

    def test_apply_full_write_batch(self, harness: Harness) -> None:
        cid = harness.add_container("Big batch")
        conn = harness.connector()
        container = conn.find_container(harness.container_key, cid)
        n = min(conn.write_batch_size, 500)
        refs = [harness.add_person(f"bulk{i}@example.com") for i in range(n)]
        status = container.default_status.label if container.default_status else None
        outcomes = conn.apply_changes(container, [Change(ChangeAction.ADD, r, status) for r in refs])
        assert [o.state for o in outcomes] == [OutcomeState.APPLIED] * n
        assert len(harness.members(cid)) == n

    def test_status_changes_and_invalid_status_rejected(self, harness: Harness) -> None:
        if harness.role is not Role.CRM:
            pytest.skip("lists have no member status")
        cid = harness.add_container("Status writes", statuses=[("Sent", False), ("Responded", True)])
        p, q = harness.add_person("s1@example.com"), harness.add_person("s2@example.com")
        conn = harness.connector()
        container = conn.find_container("campaign", cid)
        conn.apply_changes(container, [Change(ChangeAction.ADD, p, "Sent")])
        outcomes = conn.apply_changes(
            container, [Change(ChangeAction.SET_STATUS, p, "Responded"), Change(ChangeAction.ADD, q, "Exploded")]
        )
        assert outcomes[0].state is OutcomeState.APPLIED
        assert outcomes[1].state is OutcomeState.REJECTED
        assert outcomes[1].message
        assert harness.members(cid) == {p.id: "Responded"}
        dup = conn.apply_changes(container, [Change(ChangeAction.ADD, p, "Sent")])
        assert dup[0].state is OutcomeState.ALREADY_PRESENT
        assert dup[0].current_status == "Responded"

    def test_readonly_container_is_never_written(self, harness: Harness) -> None:
        try:
            cid = harness.add_readonly_container("Computed")
        except NotImplementedError:
            pytest.skip("this system has no read-only containers")
        p = harness.add_person("ro@example.com")
        conn = harness.connector()
        container = next(c for c in conn.list_containers() if c.id == cid)
        assert not container.writable
        try:
            outcomes = conn.apply_changes(container, [Change(ChangeAction.ADD, p)])
        except FatalError:
            pass
        else:
            assert [o.state for o in outcomes] == [OutcomeState.REJECTED]
        assert harness.members(cid) == {}

    def test_create_people_then_lookup(self, harness: Harness) -> None:
        conn = harness.connector()
        if not isinstance(conn, SupportsCreatePeople):
            pytest.skip(f"{conn.system} cannot create people")
        kind = "Lead" if harness.role is Role.CRM else "contact"
        drafts = [
            PersonDraft("new.person@example.com", kind, "New", "Person", "Acme"),
            PersonDraft("not an email", kind),
        ]
        outcomes = conn.create_people(drafts)
        assert outcomes[0].record is not None
        assert outcomes[1].record is None
        assert outcomes[1].message
        found = conn.lookup_people(["new.person@example.com"])
        assert [r.ref.id for r in found["new.person@example.com"]] == [outcomes[0].record.ref.id]

    def test_usage_counts_calls(self, harness: Harness) -> None:
        conn = harness.connector()
        before = conn.usage().calls
        conn.list_containers()
        assert conn.usage().calls > before
