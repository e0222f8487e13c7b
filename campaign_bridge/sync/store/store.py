"""The state store: crosswalk, source snapshots, ledger, watermarks, leases and claims, runs, plans,
decisions and findings.

One ``Store`` wraps one SQLAlchemy engine (SQLite file by default, PostgreSQL by URL); migrations are
applied on open. It is the only code that touches the tables (``tables.py``): callers hand it typed
rows (``rows.py``) and state names (``states.py``). Its methods are grouped by what they keep, one
module each:

============  =========================================================================
leases.py     which worker runs a rule; which worker ran a scheduled fire time
crosswalk.py  persons, and which record in which connection is which person
snapshot.py   what each rule last read from its source, and its watermark
ledger.py     what each rule wants in its target and has written there
runs.py       runs, held plans, the decision log, reconcile findings
alerts.py     which alerts are firing, and what each target was last told
console.py    the admin console's users, sessions, audit log, decisions on held plans, paged reads
base.py       the engine, and the bulk writer the others share
============  =========================================================================
"""

from __future__ import annotations

from campaign_bridge.sync.store.alerts import AlertStore
from campaign_bridge.sync.store.base import CHUNK
from campaign_bridge.sync.store.console import ConsoleStore
from campaign_bridge.sync.store.crosswalk import CrosswalkStore, new_person_keys
from campaign_bridge.sync.store.leases import LeaseStore
from campaign_bridge.sync.store.ledger import LedgerStore
from campaign_bridge.sync.store.rows import DecisionRow, FindingRow, LedgerRow, RefRow, SnapshotRow
from campaign_bridge.sync.store.runs import RunStore
from campaign_bridge.sync.store.snapshot import SnapshotStore


class Store(LeaseStore, CrosswalkStore, SnapshotStore, LedgerStore, RunStore, ConsoleStore, AlertStore):
    """Open (and migrate) the state database at ``url``."""


__all__ = [
    "CHUNK",
    "DecisionRow",
    "FindingRow",
    "LedgerRow",
    "RefRow",
    "SnapshotRow",
    "Store",
    "new_person_keys",
]
