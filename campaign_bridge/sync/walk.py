"""A run's way through its source, chunk by chunk (see ``Engine._execute``): the open read, what the run
keeps between chunks, and the helpers that cut a read into chunks and move its watermark."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from campaign_bridge.config.models import Rule
from campaign_bridge.connectors.base import Watermark
from campaign_bridge.mapping.model import ChangeOutcome, MemberRecord, PersonRecord
from campaign_bridge.sync.diff import Differ
from campaign_bridge.sync.identity import PendingLookup, Resolved, SourceResolver, TargetResolver
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.store.rows import SnapshotRow


@dataclass(slots=True)
class SourceRead:
    """An open read of a rule's source: its records (read as they are consumed), whether the read is full,
    the watermark it starts from, and the source container's membership version (None if it gives none).
    ``unchanged``: the version had not moved since the last clean full read, so nothing is read."""

    rows: Iterator[MemberRecord]
    full: bool
    mark: Watermark | None
    version: str | None
    unchanged: bool = False


#: At most this many target lookups (a chunk's each) wait for the lookup threads.
LOOKUPS_AHEAD = 8

#: A lookup handed to the lookup thread: the planned adds it is for, the crosswalk's part, the API's answer.
Lookup = tuple[list[Item], PendingLookup, "Future[dict[str, list[PersonRecord]]]"]
#: A write handed to the writer thread: its batch (intents already in the ledger), the target's outcomes.
Write = tuple[list[Item], "Future[list[ChangeOutcome]]"]


@dataclass(slots=True)
class Walk:
    """A run's way through its source, chunk by chunk: what it keeps between chunks is person keys, the
    plan (on the report), and what is left to look up or create in the target."""

    rule: Rule
    report: RunReport
    differ: Differ
    sources: SourceResolver
    targets: TargetResolver | None  # None for a plan (dry run): it looks nothing up in the target
    token: str | None  # stamps the snapshot records a full read sees
    wanted: set[str]  # the source member statuses that qualify (casefolded); empty: all
    present: set[str] = field(default_factory=set)  # persons the source holds
    gone: set[str] = field(default_factory=set)  # persons of records that left (or, full: may have)
    removed_records: set[str] = field(default_factory=set)
    newest: tuple[datetime, str] | None = None
    lookups: list[Item] = field(default_factory=list)  # planned adds whose target record is still unknown
    to_create: list[tuple[str, str]] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)
    looked_up: bool = False
    eager: bool = False  # write adds as they are planned (the plan cannot be held)
    ready: list[Item] = field(default_factory=list)  # eager: planned adds with a target, not yet written
    clean: bool = True  # eager: every write so far reached a final state
    pool: ThreadPoolExecutor | None = None  # runs the target's lookups while the next chunks are planned
    inflight: deque[Lookup] = field(default_factory=deque)  # lookups handed to ``pool``, oldest first
    writer: ThreadPoolExecutor | None = None  # eager, concurrent target: sends the writes
    writes: deque[Write] = field(default_factory=deque)  # writes handed to ``writer``, oldest first
    written: int = 0  # items whose writes through ``writer`` are recorded
    follow: list[Item] = field(default_factory=list)  # follow-ups those writes' outcomes call for

    def find_targets(self, *, final: bool) -> None:
        """Look up the target records of planned adds that have none, in whole lookup batches (all that
        are left when ``final``). People the target lacks are created only when the plan is applied.

        With a ``pool``, the target's API calls run in its thread while the run plans the next
        chunks (the crosswalk and its updates stay in this thread): up to ``LOOKUPS_AHEAD`` lookups wait
        there, so a paced target always has one to work on; each answer is taken in here once it is in.
        ``final`` waits for everything."""
        self.settle(wait=final)
        if self.targets is None or not self.lookups:
            return
        step = self.targets.connector.lookup_batch_size
        take = len(self.lookups) if final else len(self.lookups) // step * step
        if take == 0:
            return
        t0 = time.perf_counter()
        items, self.lookups = self.lookups[:take], self.lookups[take:]
        pending = self.targets.start({i.person_key: i.email for i in items})
        if self.pool is None or final:
            self._found(items, pending, self.targets.fetch(pending.emails))
        else:
            self.inflight.append((items, pending, self.pool.submit(self.targets.fetch, pending.emails)))
        self.report.timings["resolve"] += time.perf_counter() - t0

    def settle(self, *, wait: bool = True, one: bool = False) -> None:
        """Take in the answers of the lookups in flight, oldest first: all of them, waiting (``wait``:
        before the plan is written, or before a target that cannot take two calls at once is written to;
        ``one``: only the oldest), else those that are in, and the oldest if ``LOOKUPS_AHEAD`` are queued."""
        t0 = time.perf_counter()
        while self.inflight and (wait or self.inflight[0][2].done() or len(self.inflight) >= LOOKUPS_AHEAD):
            items, pending, future = self.inflight.popleft()
            self._found(items, pending, future.result())
            if one:
                break
        self.report.timings["resolve"] += time.perf_counter() - t0

    def _found(self, items: list[Item], pending: PendingLookup, records: dict[str, list[PersonRecord]]) -> None:
        """Take in one lookup's answer: the target record of each of its adds, or why it has none."""
        assert self.targets is not None
        found, decisions, unresolved, missing = self.targets.finish(pending, records)
        self.report.decisions.extend(decisions)
        for item in items:
            item.target = found.get(item.person_key)
        if self.eager:
            self.ready.extend(i for i in items if i.target is not None)
        self.unresolved.update(unresolved)
        self.to_create.extend(missing)
        self.looked_up = True

    def sort(self, resolved: list[Resolved]) -> tuple[list[SnapshotRow], list[str], dict[str, str | None]]:
        """Snapshot rows of the records that qualify, ids of those that left (their persons join ``gone``),
        and every person's email."""
        upserts: list[SnapshotRow] = []
        deletes: list[str] = []
        emails: dict[str, str | None] = {}
        for r in resolved:
            person = r.record.person
            rid = person.survivor.id if person.survivor != person.ref else person.ref.id
            qualifies = not r.record.removed and not person.deleted
            if qualifies and self.wanted:
                qualifies = (r.record.status or "").casefold() in self.wanted
            if qualifies:
                upserts.append(SnapshotRow(rid, r.person_key, r.record.status, r.record.modified_at))
                emails[r.person_key] = r.email
            else:
                deletes.append(rid)
                self.gone.add(r.person_key)
                emails.setdefault(r.person_key, r.email)
        return upserts, deletes, emails


def forget(walk: Walk) -> None:
    """A run that ends with lookups or writes in flight (stopped, failed) cancels those not started and
    lets the running ones finish unread (the pools' shutdown waits for them). A write left unrecorded
    keeps its ``pending`` intents, so the next run sends it again."""
    for _, _, lookup in walk.inflight:
        lookup.cancel()
    for _, write in walk.writes:
        write.cancel()
    walk.inflight.clear()
    walk.writes.clear()
    walk.pool = walk.writer = None


def sizes(size: int, first: int | None = None) -> Iterator[int]:
    """Chunk sizes: ``first``, doubling up to ``size``, then ``size`` for ever (``size`` from the start when
    ``first`` is None). A run's first chunk comes quickly, so its first target lookups, and a paced
    vendor's first window, start early."""
    n = min(first or size, size)
    while n < size:
        yield n
        n *= 2
    yield from itertools.repeat(size)


def chunks_of(
    rows: Iterator[MemberRecord], size: int, timings: dict[str, float], first: int | None = None
) -> Iterator[list[MemberRecord]]:
    """``rows`` in lists of ``size`` (ramping up from ``first``, see ``sizes``); the time spent waiting for
    them is the run's ``read`` time."""
    for n in sizes(size, first):
        t0 = time.perf_counter()
        chunk = list(itertools.islice(rows, n))
        timings["read"] += time.perf_counter() - t0
        if not chunk:
            return
        yield chunk


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
