"""The run's pipeline: its threads, and the one policy that decides when each does what.

Three kinds of work overlap while a run reads its source, when source and target are different
connections:

- the **read-ahead** thread fetches the next chunks of the source (``readahead.py``);
- the **lookup pool** finds the target records of planned adds (the API calls only; the crosswalk is
  updated in the run's thread when an answer is taken in); two threads for a target that takes
  ``concurrent_calls``, so a paced vendor's window is spent in half the time;
- the **writer**: a run (not a dry run) writes its adds while it reads, whole eager writes at a time
  ("eager": only removals need the whole read and the safety guard), so that a run killed every few
  minutes still makes progress. A run whose plan cannot be held (``SafetyGuard.could_hold``: a first
  sync) also writes the tail as its last lookups come in (``tail``), so that little is left for the
  end; any other leaves the rest for the apply step, where a small plan goes in one write. To a target that takes concurrent calls they go from a thread of their own, the run writing their intents before it hands them over and recording their outcomes when they
  come back, so it never waits for a paced slot.

Everything that touches the state store stays in the run's thread; the other threads only make API calls.
``Pipeline.write_ready`` is the policy: how many adds to gather before a write, whether to wait for the
lookups in flight first, and what changes when the run would wait for the source (``idle``) or the read is
over (``last``).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

from campaign_bridge.connectors.base import uses_bulk
from campaign_bridge.mapping.model import ChangeOutcome, MemberRecord, PersonRecord
from campaign_bridge.sync.identity import PendingLookup, TargetResolver
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.readahead import ReadAhead, chunks_of
from campaign_bridge.sync.target import Target
from campaign_bridge.sync.writer import BatchWriter, call

#: Source records are resolved, written to the snapshot and planned this many at a time, so that a
#: rule's memory grows with its plan, not with its source (docs/benchmarks.md, "State at scale").
CHUNK = 5_000
#: The first chunk is this small, and each next one twice the last, up to ``CHUNK``: the first target
#: lookups (and a paced vendor's first window) start without waiting for a whole chunk to be planned.
FIRST_CHUNK = 200
#: A run whose plan cannot be held writes its adds while it reads, about this many at a time (whole write
#: batches), so that writing overlaps reading and little is left to write when the read ends…
EAGER_WRITE = 10_000
#: …or one Bulk job of about this many where the target has them (a job costs 4 calls, whatever its size).
EAGER_BULK = 25_000
#: At most this many chunks of the source, read ahead, wait for the run. More (6 was tried) let the
#: reading thread take the GIL from the run's first chunks, and so delay the first lookups.
READ_AHEAD = 2
#: At most this many target lookups (a chunk's each) wait for the lookup threads.
LOOKUPS_AHEAD = 8


@dataclass(frozen=True, slots=True)
class Tuning:
    """The pipeline's sizes. ``Tuning.default()`` gives the measured ones above (docs/benchmarks.md),
    read when a run starts, so a test that shrinks the constants sends a few hundred people through
    every path a million would take."""

    chunk: int
    first_chunk: int
    eager_write: int
    eager_bulk: int
    read_ahead: int
    lookups_ahead: int

    @classmethod
    def default(cls) -> Tuning:
        return cls(CHUNK, FIRST_CHUNK, EAGER_WRITE, EAGER_BULK, READ_AHEAD, LOOKUPS_AHEAD)


#: A lookup handed to the lookup pool: the planned adds it is for, the crosswalk's part, the API's answer.
Lookup = tuple[list[Item], PendingLookup, "Future[dict[str, list[PersonRecord]]]"]
#: A write handed to the writer thread: its batch (intents already in the ledger), the target's outcomes.
Write = tuple[list[Item], "Future[list[ChangeOutcome]]"]


class Pipeline:
    """One run's read, lookups and eager writes. Use it as a context manager: leaving it cancels what
    has not started and waits for the threads' calls under way (a write left unrecorded keeps its
    ``pending`` intents, so the next run sends it again).

    ``writer`` is None for a dry run (``plan``), which writes nothing; ``targets`` is None when nothing
    is looked up in the target (a dry run). ``apart``: source and target are different connections, so
    the source is read ahead and lookups run in the pool; one connector is used by one thread at a time."""

    def __init__(
        self,
        rows: Iterator[MemberRecord],
        report: RunReport,
        target: Target,
        *,
        targets: TargetResolver | None,
        writer: BatchWriter | None,
        tail: bool,
        apart: bool,
        should_stop: Callable[[], bool],
        tuning: Tuning,
    ) -> None:
        self.report, self.target, self.targets, self.writer = report, target, targets, writer
        # Every run that writes writes its adds while it reads ("eager"); only a dry run does not.
        self.eager = writer is not None
        self.tail, self.should_stop, self.tuning = tail, should_stop, tuning
        self._stack = contextlib.ExitStack()
        self.chunks: Iterable[list[MemberRecord]] = chunks_of(rows, tuning.chunk, report.timings, tuning.first_chunk)
        self._ahead: ReadAhead | None = None
        if apart:
            idle = self._while_waiting if self.eager else None
            self._ahead = self._stack.enter_context(
                ReadAhead(rows, tuning.chunk, report.timings, tuning.read_ahead, tuning.first_chunk, idle=idle)
            )
            self.chunks = self._ahead
        concurrent = target.connector.concurrent_calls
        self._pool: ThreadPoolExecutor | None = None
        self._sender: ThreadPoolExecutor | None = None
        if apart and targets is not None:
            self._pool = self._stack.enter_context(ThreadPoolExecutor(2 if concurrent else 1, "campaign-bridge-lookup"))
            if self.eager and concurrent:
                self._sender = self._stack.enter_context(ThreadPoolExecutor(1, "campaign-bridge-write"))
            self._stack.callback(self._forget)
        # lookups: planned adds whose target record is unknown, those handed to the pool, and their results
        self.lookups: list[Item] = []
        self.inflight: deque[Lookup] = deque()
        self.to_create: list[tuple[str, str]] = []
        self.unresolved: dict[str, str] = {}
        self.looked_up = False
        # eager writes: adds with a target not written yet, writes handed to the writer thread, follow-ups
        self.ready: list[Item] = []
        self.writes: deque[Write] = deque()
        self.follow: list[Item] = []
        self.clean = True  # every write so far reached a final state
        self._prepared = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # -- the run's steps -----------------------------------------------------------------------
    def take(self, adds: Iterable[Item]) -> None:
        """Newly planned adds: those with no target record wait for a lookup; an eager run's others wait
        to be written."""
        took = False
        for item in adds:
            took = True
            # A retried add carries the record its ledger row holds; a lead may have been converted since, and
            # a converted lead takes no membership: it is looked up again, as a new add's lead is (``start``).
            if item.target is None or item.target.kind.lower() == "lead":
                self.lookups.append(item)
            elif self.eager:
                self.ready.append(item)
        if took and self._sender is not None and not self._prepared:
            # the first add planned: a target that prepares its writes (Marketo reads a static list's first
            # page) does it now, on the writer thread, so the first write does not wait for it
            self._prepared = True
            self._sender.submit(self.target.connector.prepare_writes, self.target.container)

    def after_chunk(self) -> None:
        """A chunk is planned: start its lookups, and (eager) write what is ready."""
        self.find_targets(final=False)
        if self.eager:
            self.write_ready(idle=self._ahead is not None and self._ahead.waiting())

    def read_done(self) -> None:
        """The read is over: a run with a writer thread sends what is ready while the store finds the
        persons who left (``tail``)."""
        if self._sender is not None and self.tail:
            self.write_ready(last=True)

    def drain(self) -> bool:
        """Take in the last lookups; an eager run writes what each brings while the next is under way (a
        write or two more than whole batches), so that little is left for the end; then record every write
        sent ahead. False when a stop was asked for meanwhile (see ``stopped``)."""
        if self.eager and self.tail:
            while self.inflight:
                self.settle(wait=True, one=True)
                self.write_ready(last=True)
                if self.stopped():
                    return False
        self.take_writes(wait=True)
        return True

    def stopped(self) -> bool:
        """Whether a stop was asked for while the run reads (or takes in its last lookups); if so the
        lookups not started are dropped, the writes under way recorded, and the run ends partial, before
        it plans any removal; the next run continues."""
        if not self.should_stop():
            return False
        for _, _, lookup in self.inflight:
            lookup.cancel()
        self.take_writes(wait=True)
        self.report.message = "stopped on request while reading the source; the next run continues"
        self.report.status = "partial"
        return True

    def last_adds(self) -> tuple[list[Item], list[tuple[Item, str]]]:
        """The planned adds not written yet, once every lookup is in: those to write (the people the
        target lacked are created first, where the rule says so), and those that found no target record,
        with why. Without any lookup (the crosswalk knew every target record) none is refused here."""
        adds = [i for i in self.report.adds if not i.sent]
        if self.to_create and self.targets is not None:
            created, decisions, why = self.targets.create(self.to_create)
            self.report.decisions.extend(decisions)
            self.unresolved.update(why)
            for item in adds:
                if item.target is None:
                    item.target = created.get(item.person_key)
        if not self.looked_up:
            return adds, []
        blocked = [(i, self.unresolved.get(i.person_key, "unmatched")) for i in adds if i.target is None]
        return [i for i in adds if i.target is not None], blocked

    # -- lookups ---------------------------------------------------------------------------------
    def find_targets(self, *, final: bool) -> None:
        """Look up the target records of planned adds that have none, in whole lookup batches (all that
        are left when ``final``, which also waits for everything). People the target lacks are created
        only when the plan is applied. With a pool, up to ``lookups_ahead`` lookups wait there, so a
        paced target always has one to work on; each answer is taken in here once it is in."""
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
        if self._pool is None or final:
            self._found(items, pending, self.targets.fetch(pending.emails))
        else:
            self.inflight.append((items, pending, self._pool.submit(self.targets.fetch, pending.emails)))
        self.report.timings["resolve"] += time.perf_counter() - t0

    def settle(self, *, wait: bool = True, one: bool = False) -> None:
        """Take in the answers of the lookups in flight, oldest first: all of them, waiting (``wait``:
        before the plan is written, or before a target that cannot take two calls at once is written to;
        ``one``: only the oldest), else those that are in, and the oldest if ``lookups_ahead`` are queued."""
        t0 = time.perf_counter()
        ahead = self.tuning.lookups_ahead
        while self.inflight and (wait or self.inflight[0][2].done() or len(self.inflight) >= ahead):
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

    # -- eager writes: the policy ----------------------------------------------------------------
    def write_ready(self, *, idle: bool = False, last: bool = False) -> None:
        """Write the planned adds that have a target, a whole ``_eager_size`` at a time; or, ``idle`` (the
        next chunk is not read yet, so the run would wait), all of them once they are ``eager_write`` (in
        whole write batches unless a Bulk job carries them), so that a paced source's wait is spent
        writing; or, ``last`` (the read is over and the lookups come in one by one), all of them, so that
        little is left to write when the last lookup is in; a Bulk job, whose calls do not grow with its
        size, waits for ``eager_write`` of them while lookups are still to come.

        A target that takes ``concurrent_calls`` is written to while its lookups go on; any other waits
        for them first, so it is written to only when the lookups in flight would not fill a write. The
        outcomes of earlier writes that are in are recorded after the new write is sent, not before."""
        self._send_ready(idle=idle, last=last)
        self.take_writes(wait=False)

    def _send_ready(self, *, idle: bool, last: bool) -> None:
        assert self.writer is not None
        eager_write, conn = self.tuning.eager_write, self.target.connector
        size = self._eager_size()
        least = min(size, eager_write) if idle else size
        if conn.concurrent_calls:
            self.settle(wait=False)
        elif not last and len(self.ready) + sum(len(items) for items, _, _ in self.inflight) < least:
            return  # not enough yet: leave the lookups in flight running
        else:
            self.settle()
        if last:
            least = eager_write if self.inflight and uses_bulk(conn, eager_write) else 1
        if len(self.ready) < least:
            return
        take = len(self.ready) // size * size
        if idle or last:
            step = self.writer.route(len(self.ready))[1]
            whole = len(self.ready) // step * step
            # one Bulk job, whatever its size; else whole write batches, and the rest once no lookup is left
            take = len(self.ready) if uses_bulk(conn, len(self.ready)) or (last and not self.inflight) else whole
        if take == 0:
            return
        items, self.ready = self.ready[:take], self.ready[take:]
        for item in items:
            item.sent = True
        t0 = time.perf_counter()
        if self._sender is not None:
            self._send_ahead(items)
        else:
            self.clean = self.writer.write(items) and self.clean
        self.report.timings["apply"] = self.report.timings.get("apply", 0.0) + time.perf_counter() - t0

    def _eager_size(self) -> int:
        """How many adds an eager run writes at a time: one Bulk job of ``eager_bulk`` where the target
        has them, else whole write batches, about ``eager_write``."""
        conn = self.target.connector
        if uses_bulk(conn, self.tuning.eager_bulk):
            return min(self.tuning.eager_bulk, conn.bulk_batch_size)
        step = conn.write_batch_size
        return max(step, self.tuning.eager_write // step * step)

    def _send_ahead(self, items: list[Item]) -> None:
        """Write the intents of ``items`` now and hand their batches to the writer thread, so the run goes
        on planning while a paced target finds them a slot; ``take_writes`` records the outcomes."""
        assert self._sender is not None
        assert self.writer is not None
        self.writer.log.flush()  # what the run decided before it writes
        apply, step = self.writer.route(len(items))
        for i in range(0, len(items), step):
            batch = items[i : i + step]
            changes = self.writer.intend(batch)
            self.writes.append((batch, self._sender.submit(call, apply, self.target.container, changes)))

    def take_writes(self, *, wait: bool) -> None:
        """Record the outcomes of the writes sent ahead, oldest first: those that are in, or (``wait``)
        all. Follow-ups they call for (a status to raise) are written with the rest of the plan."""
        t0 = time.perf_counter()
        while self.writes and (wait or self.writes[0][1].done()):
            assert self.writer is not None
            batch, future = self.writes.popleft()
            follow_up, final = self.writer.recorded(batch, future.result())
            self.follow.extend(follow_up)
            self.clean = self.clean and final
            self.writer.done += len(batch)
            self.writer.tick(self.writer.done)
        self.report.timings["apply"] = self.report.timings.get("apply", 0.0) + time.perf_counter() - t0

    def _while_waiting(self) -> None:
        """While the run waits for the source's next chunk: take in the lookups that are in and, an eager
        run, send what is ready (``write_ready``'s ``idle``), so that less is left for the end."""
        if self.eager:
            self.write_ready(idle=True)
        else:
            self.settle(wait=False)

    def _forget(self) -> None:
        """A run that ends with lookups or writes in flight (stopped, failed) cancels those not started and
        lets the running ones finish unread (the pools' shutdown waits for them)."""
        for _, _, lookup in self.inflight:
            lookup.cancel()
        for _, write in self.writes:
            write.cancel()
        self.inflight.clear()
        self.writes.clear()
