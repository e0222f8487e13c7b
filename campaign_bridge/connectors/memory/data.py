"""The data behind the memory connectors: a tiny CRM or MA system that lives in a dict.

One ``MemoryData`` plays one system. It is shared by name (``MemorySettings.store``) so a test can seed
it, run the engine, and inspect the result; with a ``path`` it persists to JSON after each write so
CLI runs (the offline demo) see what earlier runs did.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_bridge.mapping.model import ContainerKind, MemberStatus


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MemoryPerson:
    id: str
    kind: str
    email: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    converted_to: str | None = None
    merged_into: str | None = None
    deleted: bool = False
    modified_at: datetime = field(default_factory=_utcnow)


@dataclass
class MemoryMember:
    status: str | None
    modified_at: datetime
    removed: bool = False
    added_by: str | None = None  # the integration that added the person (None: a person, or unknown)


@dataclass
class MemoryContainer:
    id: str
    name: str
    kind: ContainerKind
    statuses: list[MemberStatus] = field(default_factory=list)
    family: str | None = None
    members: dict[str, MemoryMember] = field(default_factory=dict)
    # Values a test wants refused: email → (code, message)
    reject: dict[str, tuple[str, str]] = field(default_factory=dict)


class MemoryData:
    """One in-memory system. Every method takes the lock; ``clock`` is injectable for tests."""

    def __init__(self, path: Path | None = None, clock: Any = _utcnow) -> None:
        self.path = path
        self.clock = clock
        self.lock = threading.RLock()
        self.people: dict[str, MemoryPerson] = {}
        self.containers: dict[str, MemoryContainer] = {}
        self.calls = 0
        self.faults: list[Exception] = []  # raised, one per call, by the next calls
        self._next = 1
        if path is not None and path.exists():
            self._load(path)

    # -- seeding -------------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        with self.lock:
            ident = f"{prefix}{self._next:06d}"
            self._next += 1
            return ident

    def add_person(self, email: str | None, kind: str = "Contact", **fields: Any) -> str:
        with self.lock:
            ident = self._new_id(kind[:3].lower())
            self.people[ident] = MemoryPerson(ident, kind, email, dict(fields), modified_at=self.clock())
            self.save()
            return ident

    def add_container(
        self,
        name: str,
        kind: ContainerKind = ContainerKind.STATIC_LIST,
        statuses: list[tuple[str, bool]] | None = None,
        family: str | None = None,
    ) -> str:
        with self.lock:
            ident = self._new_id("c")
            ordered = [
                MemberStatus(label, responded=responded, default=(i == 0), rank=i + 1)
                for i, (label, responded) in enumerate(statuses or [])
            ]
            self.containers[ident] = MemoryContainer(ident, name, kind, ordered, family)
            self.save()
            return ident

    def add_member(
        self, container_id: str, person_id: str, status: str | None = None, *, by: str | None = None
    ) -> None:
        with self.lock:
            c = self.containers[container_id]
            if status is None and c.statuses:
                status = next(s.label for s in c.statuses if s.default)
            if c.family:
                for other in self.containers.values():
                    if other.family == c.family and other.id != c.id:
                        self._remove(other, person_id)
            c.members[person_id] = MemoryMember(status, self.clock(), added_by=by)
            self.save()

    def remove_member(self, container_id: str, person_id: str) -> None:
        with self.lock:
            self._remove(self.containers[container_id], person_id)
            self.save()

    def _remove(self, container: MemoryContainer, person_id: str) -> None:
        member = container.members.get(person_id)
        if member is not None and not member.removed:
            member.removed = True
            member.modified_at = self.clock()

    def convert(self, lead_id: str, contact_id: str) -> None:
        """Convert a lead: membership follows the contact, as Salesforce does."""
        with self.lock:
            lead = self.people[lead_id]
            lead.converted_to = contact_id
            lead.modified_at = self.clock()
            for c in self.containers.values():
                m = c.members.get(lead_id)
                if m is not None and not m.removed:
                    self._remove(c, lead_id)
                    if contact_id not in c.members or c.members[contact_id].removed:
                        c.members[contact_id] = MemoryMember(m.status, self.clock(), added_by=m.added_by)
            self.save()

    def members(self, container_id: str) -> dict[str, str | None]:
        """Ground truth: {person id: status} of present members."""
        with self.lock:
            return {pid: m.status for pid, m in self.containers[container_id].members.items() if not m.removed}

    def container_id(self, name: str) -> str:
        return next(c.id for c in self.containers.values() if c.name == name)

    def person_id(self, email: str) -> str:
        return next(p.id for p in self.people.values() if p.email == email)

    # -- persistence ---------------------------------------------------------------------------
    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "next": self._next,
            "people": [
                {
                    "id": p.id,
                    "kind": p.kind,
                    "email": p.email,
                    "fields": p.fields,
                    "converted_to": p.converted_to,
                    "merged_into": p.merged_into,
                    "deleted": p.deleted,
                    "modified_at": p.modified_at.isoformat(),
                }
                for p in self.people.values()
            ],
            "containers": [
                {
                    "id": c.id,
                    "name": c.name,
                    "kind": c.kind.value,
                    "family": c.family,
                    "statuses": [[s.label, s.responded] for s in c.statuses],
                    "members": {
                        pid: [m.status, m.modified_at.isoformat(), m.removed, m.added_by]
                        for pid, m in c.members.items()
                    },
                    "reject": {k: list(v) for k, v in c.reject.items()},
                }
                for c in self.containers.values()
            ],
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self._next = int(data["next"])
        for p in data["people"]:
            self.people[p["id"]] = MemoryPerson(
                p["id"],
                p["kind"],
                p["email"],
                p["fields"],
                p["converted_to"],
                p["merged_into"],
                p["deleted"],
                datetime.fromisoformat(p["modified_at"]),
            )
        for c in data["containers"]:
            container = MemoryContainer(
                c["id"],
                c["name"],
                ContainerKind(c["kind"]),
                [
                    MemberStatus(label, responded=bool(resp), default=(i == 0), rank=i + 1)
                    for i, (label, resp) in enumerate(c["statuses"])
                ],
                c["family"],
                {
                    pid: MemoryMember(
                        v[0],
                        datetime.fromisoformat(v[1]),
                        bool(v[2]),
                        v[3] if len(v) > 3 else None,
                    )
                    for pid, v in c["members"].items()
                },
                {k: (v[0], v[1]) for k, v in c.get("reject", {}).items()},
            )
            self.containers[c["id"]] = container


_STORES: dict[str, MemoryData] = {}
_STORES_LOCK = threading.Lock()


def memory_store(name: str, path: Path | None = None) -> MemoryData:
    """The shared ``MemoryData`` called ``name`` (created on first use)."""
    with _STORES_LOCK:
        if name not in _STORES:
            _STORES[name] = MemoryData(path)
        return _STORES[name]


def drop_memory_store(name: str) -> None:
    with _STORES_LOCK:
        _STORES.pop(name, None)
