"""A run's way through its source, chunk by chunk (DESIGN §5, steps 3–4 and the plan of step 5): resolve
each chunk's people, write the snapshot, diff them against the ledger; once the read is over, find and
plan the persons who left. What it keeps between chunks is person keys and the plan (on the report),
never the whole read; the adds it plans go to the pipeline (``pipeline.py``), which looks up and writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import Watermark
from campaign_bridge.mapping.model import MemberRecord
from campaign_bridge.sync.diff import Differ
from campaign_bridge.sync.identity import Resolved, SourceResolver
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.store.rows import SnapshotRow
from campaign_bridge.sync.store.store import Store

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class Walk:
    """The plan of one run as its source is read: who is in the source, who may have left, the newest
    stamp seen. Its methods return the adds they plan."""

    store: Store
    rule: Rule
    report: RunReport
    differ: Differ
    sources: SourceResolver
    token: str | None  # stamps the snapshot records a full read sees
    wanted: set[str]  # the source member statuses that qualify (casefolded); empty: all
    chunk_size: int  # leavers are planned this many at a time
    progress: Progress
    #: A segment read for its changes only: a record stamped before this has lapsed out of it.
    lapsed: datetime | None = None
    present: set[str] = field(default_factory=set)  # persons the source holds
    gone: set[str] = field(default_factory=set)  # persons of records that left (or, full: may have)
    removed_records: set[str] = field(default_factory=set)
    #: With a ``status_map`` target: each person's target status, the highest their source records map to.
    statuses: dict[str, str] = field(default_factory=dict)
    newest: tuple[datetime, str] | None = None

    def read_chunk(self, chunk: list[MemberRecord]) -> list[Item]:
        """Resolve a chunk of source records, write them to the snapshot, plan their persons."""
        rule, report = self.rule, self.report
        t0 = time.perf_counter()
        report.read += len(chunk)
        self.progress("read", report.read, report.read)
        self.newest = newest(self.newest, chunk)
        resolved, decisions = self.sources.resolve(chunk)
        report.decisions.extend(decisions)
        upserts, deletes, emails = self._sort(resolved)
        if self.sources.persist:
            self.gone |= self.store.update_snapshot(rule.name, upserts, deletes, seen_in=self.token)
        else:
            self.gone |= set(self.store.snapshot_records(rule.name, deletes).values())
        self.removed_records.update(deletes)
        fresh = {u.person_key for u in upserts} - self.present
        self.present |= fresh
        t1 = time.perf_counter()
        report.timings["resolve"] += t1 - t0
        adds = self._plan(fresh, fresh, emails) if fresh else []
        report.timings["plan"] += time.perf_counter() - t1
        return adds

    def leavers(self, full: bool, retry: set[str]) -> tuple[list[str], set[str]]:
        """The persons the read did not find in the source (once all its chunks are read): those whose
        records left, those whose segment membership lapsed (records stamped before ``lapsed``), those the
        rule's ledger holds (a full read), and those whose last write must be retried; and, of those, the
        ones still in the source through another record.

        ``gone`` counts the persons of the records that left as the crosswalk knows them, even when the
        snapshot has already forgotten the record: a run that crashed after writing the snapshot but
        before removing the member must not make the next run blind to the removal.
        """
        t0 = time.perf_counter()
        rule, still = self.rule, set[str]()
        if full:
            if self.token is not None:
                self.gone |= self.store.drop_unseen(rule.name, self.token)
            else:
                self.gone |= self.store.snapshot_persons(rule.name)
            self.gone |= self.store.ledger_keys(rule.name)
        else:
            if self.lapsed is not None:
                self.gone |= self.store.lapse_snapshot(rule.name, self.lapsed, keep=not self.sources.persist)
            # A person whose record left may still be in the source through another record (Lead + Contact);
            # not through one whose membership lapsed, which a plan leaves in the snapshot.
            still = self.store.persons_with_other_records(
                rule.name, self.gone - self.present, self.removed_records, lapsed_before=self.lapsed
            )
        self.report.timings["plan"] += time.perf_counter() - t0
        return sorted((self.gone | retry) - self.present), still

    def plan_leavers(self, leavers: list[str], still: set[str]) -> list[Item]:
        """Plan the persons ``leavers`` found; returns the adds among them (a failed add to retry)."""
        t0 = time.perf_counter()
        adds: list[Item] = []
        for i in range(0, len(leavers), self.chunk_size):
            part = leavers[i : i + self.chunk_size]
            adds.extend(self._plan(part, still, self.store.persons(part)))
        self.report.timings["plan"] += time.perf_counter() - t0
        return adds

    def _plan(self, keys: Collection[str], desired: Collection[str], emails: Mapping[str, str | None]) -> list[Item]:
        """Diff ``keys`` against their ledger rows; returns the new adds."""
        first = len(self.report.adds)
        self.differ.diff(keys, desired, self.store.ledger(self.rule.name, keys), emails, self.statuses)
        return self.report.adds[first:]

    def _lapsed(self, record: MemberRecord) -> bool:
        """A record of a segment read for its changes, stamped before its membership's window (the feed
        read since the watermark less the look-back can bring back a member whose window has just closed)."""
        stamp = record.modified_at
        return self.lapsed is not None and stamp is not None and stamp < self.lapsed

    def _sort(self, resolved: list[Resolved]) -> tuple[list[SnapshotRow], list[str], dict[str, str | None]]:
        """Snapshot rows of the records that qualify, ids of those that left (their persons join ``gone``),
        and every person's email."""
        upserts: list[SnapshotRow] = []
        deletes: list[str] = []
        emails: dict[str, str | None] = {}
        for r in resolved:
            person = r.record.person
            # Keyed by the record's own id, not its survivor's: a lead's membership read again once the lead
            # is converted (removed, or still the same member) replaces the row read before the conversion,
            # instead of leaving it behind to count the person still in the source after they have left.
            rid = person.ref.id
            qualifies = not r.record.removed and not person.deleted and not self._lapsed(r.record)
            if qualifies and self.wanted:
                qualifies = (r.record.status or "").casefold() in self.wanted
            target = self.differ.target
            if qualifies and target.status_map:
                mapped = target.status_for(r.record.status)
                qualifies = mapped is not None
                if mapped is not None:
                    self.statuses[r.person_key] = self.differ.higher(self.statuses.get(r.person_key), mapped) or mapped
            if qualifies:
                upserts.append(SnapshotRow(rid, r.person_key, r.record.status, r.record.modified_at))
                emails[r.person_key] = r.email
            else:
                deletes.append(rid)
                self.gone.add(r.person_key)
                emails.setdefault(r.person_key, r.email)
        return upserts, deletes, emails


def newest(latest: tuple[datetime, str] | None, records: list[MemberRecord]) -> tuple[datetime, str] | None:
    """The latest source stamp (with its id tie-break) among ``latest`` and ``records``."""
    for r in records:
        if r.modified_at is not None and (latest is None or (r.modified_at, r.tie_id) > latest):
            latest = (r.modified_at, r.tie_id)
    return latest


def advance(old: Watermark | None, newest: tuple[datetime, str] | None, now: datetime) -> Watermark:
    """The new watermark: the latest source stamp seen (id tie-break), never past the run's start."""
    if newest is None:
        return old or Watermark(now)
    stamp, tie = newest
    at = min(stamp, now) if stamp.tzinfo else stamp
    if old is not None and (old.at, old.tie_id) > (at, tie):
        return old
    return Watermark(at, tie)
