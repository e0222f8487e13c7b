"""The values a reconcile produces: one finding per drifted person, and the report of one rule.

Finding kinds (``FindingKind``) and what ``--repair`` does about each (``Action``):

==================  ================================================================  ==========================
kind                meaning                                                           --repair
==================  ================================================================  ==========================
missing             the ledger says the member is in the target, the source still      restored (ADD) when the
                    wants them, the target does not have them: removed by hand          rule says
                                                                                        ``on_manual_removal:
                                                                                        restore``; else respected
                                                                                        (the ledger stops
                                                                                        wanting them back)
unowned             in the target, unknown to this rule's ledger and not another        never touched
                    rule's member of that container
status_mismatch     the target's member status differs from the one the ledger          status_raised when the
                    recorded                                                            target's ranks below the
                                                                                        rule's status; else
                                                                                        status_adopted (ledger
                                                                                        only: statuses never move
                                                                                        backwards)
stale_identity      a record the state refers to was deleted, merged or converted       repointed to the survivor
                                                                                        (or forgotten if deleted)
orphan_ledger_row   a ledger row with no counterpart: neither wanted by the source      forgotten (ledger row
                    nor present in the target, or kept for a container the rule no      deleted)
                    longer writes to
==================  ================================================================  ==========================

Reconcile never removes a member from a target: removals stay with ``sync`` and its safety limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from campaign_bridge.sync.plan import Item
from campaign_bridge.sync.store.rows import FindingRow, LedgerRow, RefRow
from campaign_bridge.sync.store.states import RunStatus


class FindingKind(StrEnum):
    MISSING = "missing"
    UNOWNED = "unowned"
    STATUS_MISMATCH = "status_mismatch"
    STALE_IDENTITY = "stale_identity"
    ORPHAN_LEDGER_ROW = "orphan_ledger_row"


class Action(StrEnum):
    """What ``--repair`` did about one finding."""

    RESTORED = "restored"
    RESPECTED = "respected"
    STATUS_RAISED = "status_raised"
    STATUS_ADOPTED = "status_adopted"
    REPOINTED = "repointed"
    FORGOTTEN = "forgotten"
    FAILED = "failed"
    NONE = "none"  # reported only (unowned members are never touched)


@dataclass(slots=True)
class Fix:
    """What ``--repair`` would do about one finding: a change to write, and/or state-store bookkeeping."""

    action: Action
    write: Item | None = None  # a change sent through the target connector's ``apply_changes``
    ledger: LedgerRow | None = None  # a ledger row to write
    forget: tuple[str, str] | None = None  # a ledger row (rule, person key) to delete
    refs: list[RefRow] = field(default_factory=list)  # crosswalk rows to write


@dataclass(slots=True)
class Finding:
    """One drifted person (or record) of one rule. ``action`` is set by ``--repair``."""

    kind: FindingKind
    person_key: str | None
    email: str | None
    record: str | None
    detail: str
    action: Action | None = None
    outcome: str | None = None  # why a repair failed
    stale: str | None = None  # stale identities: deleted | converted | merged
    fix: Fix | None = field(default=None, repr=False, compare=False)

    def row(self) -> FindingRow:
        """The finding as the store records it (``Store.save_findings``)."""
        return FindingRow(
            self.kind.value,
            self.person_key,
            self.email,
            self.record,
            self.detail,
            self.action.value if self.action else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "email": self.email,
            "record": self.record,
            "detail": self.detail,
            "action": self.action.value if self.action else None,
            "outcome": self.outcome,
        }


@dataclass
class ReconcileReport:
    """What one reconcile of one rule found and, with ``repair``, did.

    ``status``: ``ok`` (no drift), ``drift`` (drift found, none repaired), ``repaired`` (every repair
    went through; unowned members are reported, never repaired), ``partial`` (some repairs failed and
    will be found again), ``failed`` or ``stopped`` (the run could not finish; ``message`` says why).
    """

    rule: str
    repair: bool
    target: str = ""
    run_id: int | None = None
    status: str = RunStatus.RUNNING
    source_read: int = 0
    target_read: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def mode(self) -> str:
        return "reconcile"

    @property
    def full_read(self) -> bool:
        """A reconcile always reads its source and target in full."""
        return True

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def of(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    @property
    def drift(self) -> list[Finding]:
        """Findings that are drift: everything but members this rule never owned."""
        return [f for f in self.findings if f.kind is not FindingKind.UNOWNED]

    def as_json(self) -> dict[str, Any]:
        kinds = {k.value: len(self.of(k)) for k in FindingKind}
        return {
            "rule": self.rule,
            "mode": self.mode,
            "repair": self.repair,
            "target": self.target,
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "read": {"source": self.source_read, "target": self.target_read},
            "found": kinds,
            "counts": dict(sorted(self.counts.items())),
            "findings": [f.as_json() for f in self.findings],
            "api_calls": self.api_calls,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
