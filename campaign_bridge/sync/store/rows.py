"""The rows callers hand the store to write (and, for the crosswalk and the ledger, read back).

Typed named tuples: a row is a value (immutable, ``_replace`` for a changed copy), and a tuple already,
so a bulk write takes its column values with one C call, no per-row dict. (Frozen dataclasses were
measured first: setting each field through ``object.__setattr__`` made a 100,000-member first sync
about 1.5 s slower; a named tuple is built in C.)
A row names every column it writes; the store adds the ones every row of a call shares (the rule, the
run, the time), as its methods' arguments.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from campaign_bridge.sync.store.states import LedgerState, RefState


class RefRow(NamedTuple):
    """A crosswalk row (``person_refs``): record ``record_id`` of ``connection`` is person ``person_key``."""

    connection: str
    record_id: str
    kind: str
    person_key: str
    email: str | None
    state: RefState
    survivor_id: str | None
    seen_at: datetime


class LedgerRow(NamedTuple):
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


class SnapshotRow(NamedTuple):
    """A record of a rule's source snapshot (``source_members``; the rule and the read's token are the
    arguments of ``Store.update_snapshot``)."""

    record_id: str
    person_key: str
    status: str | None
    modified_at: datetime | None


class DecisionRow(NamedTuple):
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


class FindingRow(NamedTuple):
    """What a reconcile found about one person or record, and what ``--repair`` did (``reconcile_findings``;
    its run, rule and time are the arguments of ``Store.save_findings``)."""

    kind: str
    person_key: str | None
    email: str | None
    record: str | None
    detail: str
    action: str | None
