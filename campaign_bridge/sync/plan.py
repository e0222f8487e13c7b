"""The values a run produces: plan items, decisions, and the run report (stable JSON for scripts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from campaign_bridge.mapping.model import ChangeAction, RecordRef
from campaign_bridge.sync.store.rows import DecisionRow


class Kind(StrEnum):
    """Decision kinds. The conflict kinds (``CONFLICTS``) are the records not applied exactly as asked."""

    ADDED = "added"
    REMOVED = "removed"
    STATUS_CHANGED = "status_changed"
    ALREADY_MEMBER = "already_member"
    CREATED_PERSON = "created_person"
    LEFT_IN_PLACE = "left_in_place"  # not desired any more, but this rule never added it
    KEPT_FOR_OTHER_RULE = "kept_for_other_rule"
    # conflicts
    EXCLUSIVE_TARGET = "exclusive_target"
    STATUS_COLLISION = "status_collision"
    AMBIGUOUS_IDENTITY = "ambiguous_identity"
    UNMATCHED_PERSON = "unmatched_person"
    LEAD_CONVERTED = "lead_converted"
    RECORD_MERGED = "record_merged"
    RECORD_DELETED = "record_deleted"
    DRIFT = "drift"
    REJECTED_RECORD = "rejected_record"
    DEAD_LETTER = "dead_letter"
    HELD_PLAN = "held_plan"


CONFLICTS = frozenset(
    {
        Kind.EXCLUSIVE_TARGET,
        Kind.STATUS_COLLISION,
        Kind.AMBIGUOUS_IDENTITY,
        Kind.UNMATCHED_PERSON,
        Kind.LEAD_CONVERTED,
        Kind.RECORD_MERGED,
        Kind.RECORD_DELETED,
        Kind.DRIFT,
        Kind.REJECTED_RECORD,
        Kind.DEAD_LETTER,
        Kind.HELD_PLAN,
    }
)


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Kind
    person_key: str | None
    email: str | None
    detail: str
    container: str = ""

    def row(self, run_id: int | None, rule: str, at: datetime) -> DecisionRow:
        return DecisionRow(
            run_id,
            rule,
            self.kind,  # a StrEnum is its string (``.value`` costs a descriptor call per decision)
            self.person_key,
            self.email,
            self.container,
            self.detail,
            self.kind in CONFLICTS,
            at,
        )


@dataclass(slots=True)
class Item:
    """One planned membership change for one person."""

    action: ChangeAction
    person_key: str
    email: str | None
    status: str | None = None
    target: RecordRef | None = None
    replace: bool = False
    owned: bool = False  # the ledger row's ownership before this change
    attempts: int = 0
    other_rule: str | None = None  # a removal skipped because this rule also wants the member
    sent: bool = False  # already handed to the target by a run that writes while it reads

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "email": self.email,
            "status": self.status,
            "target": str(self.target) if self.target else None,
        }


@dataclass
class RunReport:
    """What one run of one rule did (or, for ``plan``, would do)."""

    rule: str
    mode: str
    run_id: int | None = None
    status: str = "running"
    full_read: bool = False
    read: int = 0
    adds: list[Item] = field(default_factory=list)
    status_changes: list[Item] = field(default_factory=list)
    removals: list[Item] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def conflicts(self) -> list[Decision]:
        return [d for d in self.decisions if d.kind in CONFLICTS]

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "mode": self.mode,
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "full_read": self.full_read,
            "read": self.read,
            "planned": {
                "adds": len(self.adds),
                "status_changes": len(self.status_changes),
                "removals": len(self.removals),
            },
            "changes": {
                "adds": [i.as_json() for i in self.adds],
                "status_changes": [i.as_json() for i in self.status_changes],
                "removals": [i.as_json() for i in self.removals],
            },
            "counts": dict(sorted(self.counts.items())),
            "conflicts": [
                {"kind": d.kind.value, "email": d.email, "detail": d.detail, "container": d.container}
                for d in self.conflicts
            ],
            "api_calls": self.api_calls,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
