"""The rows callers hand the store to write (and, for the crosswalk and the ledger, read back).

Frozen and slotted: a row is a value, and a bulk write turns each into its column values with one
``attrgetter`` call over its fields, no per-row dict.
A row names every column it writes; the store adds the ones every row of a call shares (the rule, the
run, the time), as its methods' arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaign_bridge.sync.store.states import LedgerState, RefState


@dataclass(frozen=True, slots=True)
class RefRow:
    """A crosswalk row (``person_refs``): record ``record_id`` of ``connection`` is person ``person_key``."""

    connection: str
    record_id: str
    kind: str
    person_key: str
    email: str | None
    state: RefState
    survivor_id: str | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """What rule ``rule`` wants of person ``person_key`` in its target, and what it has written there."""

    rule: str
    person_key: str
    connection: str
    container_id: str
    target_record_id: str | None
    target_kind: str | None
    status: str | None
    owned: bool
    state: LedgerState
    attempts: int
    last_error: str | None
    written_at: datetime | None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A record of a rule's source snapshot (``source_members``; the rule and the read's token are the
    arguments of ``Store.update_snapshot``)."""

    record_id: str
    person_key: str
    status: str | None
    modified_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """An entry of the decision log (``decisions``)."""

    run_id: int | None
    rule: str
    kind: str
    person_key: str | None
    email: str | None
    container: str
    detail: str
    is_conflict: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class FindingRow:
    """What a reconcile found about one person or record, and what ``--repair`` did (``reconcile_findings``;
    its run, rule and time are the arguments of ``Store.save_findings``)."""

    kind: str
    person_key: str | None
    email: str | None
    record: str | None
    detail: str
    action: str | None
