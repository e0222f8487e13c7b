"""The memory connector pair: a CRM and an MA system held in memory (or a JSON file).

They follow the connector contract to the letter (they pass tests/contract/) and model every kind of
container the engine must handle: CRM campaigns with ordered statuses, static, dynamic and exclusive
audiences, email sends. Used by the engine's unit tests and by the offline demo.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from campaign_bridge.connectors.base import ConnectionSettings, Connector, MemberOrigin, Watermark
from campaign_bridge.connectors.memory.data import MemoryContainer, MemoryData, MemoryPerson, memory_store
from campaign_bridge.connectors.memory.discovery import MemoryDiscovery
from campaign_bridge.mapping.model import (
    ApiUsage,
    Change,
    ChangeAction,
    ChangeOutcome,
    Container,
    ContainerKind,
    CreateOutcome,
    MemberRecord,
    OutcomeState,
    PersonDraft,
    PersonRecord,
    RecordRef,
    normalise_email,
)
from campaign_bridge.mapping.segment import CANONICAL_FIELDS, Segment, SegmentField, evaluate
from campaign_bridge.mapping.semantics import target_refusal

__all__ = ["MemoryCRM", "MemoryData", "MemoryMA", "MemorySettings", "memory_store"]

PAGE_SIZE = 200


class MemorySettings(ConnectionSettings):
    type: Literal["memory-crm", "memory-ma"]
    store: str = "default"
    path: str | None = None


#: Who a membership the connector adds is recorded as added by (a person's edits, made on the data
#: directly, record no one): the memory systems' stand-in for a CRM's CreatedById.
ADDED_BY = "campaign-bridge"


class _MemoryConnector(MemoryDiscovery, Connector):
    Settings = MemorySettings
    reads_incrementally = True
    sees_removals_incrementally = True
    #: ``read_segment`` is ``evaluate`` itself, the reference meaning: every canonical field, as typed.
    segment_fields: ClassVar[Mapping[str, SegmentField]] = {
        field: SegmentField(kind) for field, kind in CANONICAL_FIELDS.items()
    }

    def __init__(self, name: str, settings: ConnectionSettings) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, MemorySettings)
        self.data: MemoryData = memory_store(settings.store, Path(settings.path) if settings.path else None)
        self._calls = 0

    # -- helpers -------------------------------------------------------------------------------
    def _call(self, pages: int = 1) -> None:
        with self.data.lock:
            self._calls += pages
            self.data.calls += pages
            if self.data.faults:
                fault = self.data.faults.pop(0)
                if fault is not None:
                    raise fault

    def _ref(self, person_id: str, kind: str | None = None) -> RecordRef:
        p = self.data.people.get(person_id)
        return RecordRef(self.name, kind or (p.kind if p else "Contact"), person_id)

    def _record(self, p: MemoryPerson) -> PersonRecord:
        return PersonRecord(
            ref=RecordRef(self.name, p.kind, p.id),
            email=p.email,
            converted_to=self._ref(p.converted_to) if p.converted_to else None,
            merged_into=self._ref(p.merged_into) if p.merged_into else None,
            deleted=p.deleted,
        )

    def _container(self, c: MemoryContainer) -> Container:
        return Container(
            connection=self.name,
            id=c.id,
            name=c.name,
            kind=c.kind,
            writable=target_refusal(self.system, c.kind) is None,
            exclusive=c.family is not None,
            has_status=bool(c.statuses),
            family=c.family,
            statuses=tuple(c.statuses),
        )

    # -- contract ------------------------------------------------------------------------------
    def list_containers(self) -> Sequence[Container]:
        self._call()
        with self.data.lock:
            return [self._container(c) for c in self.data.containers.values()]

    def read_members(
        self, container: Container, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        with self.data.lock:
            c = self.data.containers[container.id]
            rows = [
                MemberRecord(self._record(self.data.people[pid]), m.status, m.modified_at, m.removed, pid)
                for pid, m in c.members.items()
                if (since is None and not m.removed)
                or (since is not None and m.modified_at >= since.at and (until is None or m.modified_at <= until))
            ]
        rows.sort(key=lambda r: (r.modified_at or datetime.min, r.tie_id))
        self._call(max(1, math.ceil(len(rows) / PAGE_SIZE)))
        yield from rows

    def read_segment(
        self, segment: Segment, since: Watermark | None = None, until: datetime | None = None
    ) -> Iterator[MemberRecord]:
        now = self.data.clock()
        with self.data.lock:
            rows = [
                MemberRecord(self._record(p), None, p.modified_at, False, p.id)
                for p in self.data.people.values()
                if not p.deleted and evaluate(segment, {**p.fields, "email": p.email}, now)
            ]
        rows.sort(key=lambda r: (r.modified_at or datetime.min, r.tie_id))
        self._call(max(1, math.ceil(len(rows) / PAGE_SIZE)))
        yield from rows

    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[PersonRecord]]:
        wanted = {normalise_email(e) for e in emails} - {None}
        self._call()
        found: dict[str, list[PersonRecord]] = {}
        with self.data.lock:
            for p in self.data.people.values():
                email = normalise_email(p.email)
                if email is not None and email in wanted and not p.deleted:
                    found.setdefault(email, []).append(self._record(p))
        return found

    def create_people(self, drafts: Sequence[PersonDraft]) -> list[CreateOutcome]:
        self._call()
        outcomes = []
        for d in drafts:
            if "@" not in d.email or " " in d.email.strip():
                outcomes.append(CreateOutcome(d, None, "INVALID_EMAIL_ADDRESS", f"invalid email: {d.email!r}"))
                continue
            fields: dict[str, Any] = {"first_name": d.first_name, "last_name": d.last_name, "company": d.company}
            ident = self.data.add_person(d.email, d.kind, **{k: v for k, v in fields.items() if v})
            outcomes.append(CreateOutcome(d, self._record(self.data.people[ident])))
        return outcomes

    def member_origin(self, container: Container, refs: Sequence[RecordRef]) -> dict[str, MemberOrigin]:
        self._call()
        with self.data.lock:
            members = self.data.containers[container.id].members
            found = {r.id: members.get(r.id) for r in refs}
            return {
                rid: MemberOrigin(m.status, m.added_by == ADDED_BY)
                for rid, m in found.items()
                if m is not None and not m.removed
            }

    def apply_changes(self, container: Container, changes: Sequence[Change]) -> list[ChangeOutcome]:
        self._call()
        with self.data.lock:
            c = self.data.containers[container.id]
            out = [self._apply_one(container, c, ch) for ch in changes]
            self.data.save()
            return out

    def _apply_one(self, container: Container, c: MemoryContainer, ch: Change) -> ChangeOutcome:
        person = self.data.people.get(ch.target.id)
        if person is None or person.deleted:
            return ChangeOutcome(ch, OutcomeState.REJECTED, "NOT_FOUND", f"no person {ch.target.id}")
        if c.kind in (ContainerKind.DYNAMIC_LIST, ContainerKind.EMAIL_SEND):
            return ChangeOutcome(ch, OutcomeState.REJECTED, "READ_ONLY", f"{c.name} cannot be written")
        refused = c.reject.get(normalise_email(person.email) or "")
        if refused and ch.action is not ChangeAction.REMOVE:
            return ChangeOutcome(ch, OutcomeState.REJECTED, refused[0], refused[1])
        member = c.members.get(person.id)
        present = member is not None and not member.removed
        if ch.action is ChangeAction.REMOVE:
            if not present:
                return ChangeOutcome(ch, OutcomeState.ALREADY_ABSENT)
            self.data._remove(c, person.id)
            return ChangeOutcome(ch, OutcomeState.APPLIED)
        if ch.status is not None and c.statuses and not any(s.label == ch.status for s in c.statuses):
            labels = ", ".join(s.label for s in c.statuses)
            return ChangeOutcome(ch, OutcomeState.REJECTED, "INVALID_STATUS", f"{ch.status!r} is not one of {labels}")
        if ch.action is ChangeAction.SET_STATUS:
            if not present or member is None:
                return ChangeOutcome(ch, OutcomeState.REJECTED, "NOT_A_MEMBER", "not a member of this container")
            if container.outranks(member.status, ch.status):  # raised since the ledger saw it: never lowered
                return ChangeOutcome(ch, OutcomeState.ALREADY_PRESENT, current_status=member.status)
            member.status = ch.status
            member.modified_at = self.data.clock()
            return ChangeOutcome(ch, OutcomeState.APPLIED)
        if present and member is not None:
            return ChangeOutcome(ch, OutcomeState.ALREADY_PRESENT, current_status=member.status)
        if c.family and not ch.replace:
            for other in self.data.containers.values():
                if other.family == c.family and other.id != c.id:
                    m = other.members.get(person.id)
                    if m is not None and not m.removed:
                        return ChangeOutcome(ch, OutcomeState.OCCUPIED, occupant=other.id)
        self.data.add_member(c.id, person.id, ch.status, by=ADDED_BY)
        return ChangeOutcome(ch, OutcomeState.APPLIED)

    def usage(self) -> ApiUsage:
        return ApiUsage(calls=self._calls)


class MemoryCRM(_MemoryConnector):
    system = "memory-crm"
    lookup_batch_size = 200


class MemoryMA(_MemoryConnector):
    system = "memory-ma"
    lookup_batch_size = 100
