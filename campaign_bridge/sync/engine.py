"""The engine: how one rule runs (DESIGN §5).

lease → read (full, or since the watermark with look-back) → resolve identities → desired set →
diff against the ledger → plan (held over the safety limit; ``plan`` stops here) → apply in batches
with per-item outcomes → watermark advanced only when the whole run succeeded.

Invariants the tests hold us to: a rerun with no source change writes nothing; ``mirror`` removes only
what this rule added; a member status never moves to a lower rank; a crash at any point, rerun,
converges with no duplicates and nothing lost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from campaign_bridge.config.models import ClientConfig, Rule, duration_seconds
from campaign_bridge.connectors.base import Connector, SupportsBulkApply, SupportsSegments, Watermark
from campaign_bridge.errors import (
    CampaignBridgeError,
    FatalError,
    LeaseHeldError,
    QuotaExhaustedError,
    TransientError,
)
from campaign_bridge.mapping.model import (
    Change,
    ChangeAction,
    ChangeOutcome,
    Container,
    MemberRecord,
    OutcomeState,
)
from campaign_bridge.mapping.semantics import target_refusal
from campaign_bridge.sync.diff import Differ
from campaign_bridge.sync.identity import Resolved, SourceResolver, TargetResolver
from campaign_bridge.sync.plan import Decision, Item, Kind, RunReport
from campaign_bridge.sync.readahead import ReadAhead
from campaign_bridge.sync.record import record, write_rows
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import Target
from campaign_bridge.sync.walk import SourceRead, Walk, advance, chunks_of, forget, newest

Clock = Callable[[], datetime]
Progress = Callable[[str, int, int], None]
#: A connector's ``apply_changes`` or ``apply_bulk``: one outcome per change, in order.
Apply = Callable[[Container, Sequence[Change]], list[ChangeOutcome]]

#: A lease outlives a crashed worker by at most this long.
LEASE_SECONDS = 15 * 60
#: The removal-fraction limit only applies to plans removing at least this many members.
MIN_REMOVALS_FOR_FRACTION = 10
#: Source records are resolved, written to the snapshot and planned this many at a time, so that a
#: rule's memory grows with its plan, not with its source (docs/benchmarks.md, "State at scale").
CHUNK = 5_000
#: A run whose plan cannot be held (the rule owns nothing it could remove, as on a first sync) writes its
#: adds while it reads, about this many at a time (whole write batches), so that writing overlaps reading
#: and little is left to write when the read ends…
EAGER_WRITE = 10_000
#: …or one Bulk job of about this many where the target has them (a job costs 4 calls, whatever its size).
EAGER_BULK = 25_000
#: The first chunk is this small, and each next one twice the last, up to ``CHUNK``: the first target
#: lookups (and a paced vendor's first window) start without waiting for a whole chunk to be planned.
FIRST_CHUNK = 200
#: At most this many chunks of the source, read ahead, wait for the run (and ``walk.LOOKUPS_AHEAD`` target
#: lookups for the lookup threads). More (6 was tried) let the reading thread take the GIL from the run's
#: first chunks, and so delay the first lookups.
READ_AHEAD = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_holder() -> str:
    """A lease holder name, ``host:pid:random``: the host and pid let a run take over a dead worker's lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Engine:
    """Runs the rules of one client file. Parts are passed in: store, connectors by name, clock."""

    def __init__(
        self,
        config: ClientConfig,
        store: Store,
        connectors: Mapping[str, Connector],
        *,
        clock: Clock = utcnow,
        holder: str | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config, self.store, self.connectors, self.clock = config, store, connectors, clock
        self.holder = holder or new_holder()
        self.progress = progress or (lambda stage, done, total: None)
        self.should_stop = should_stop
        self._logged: dict[int, int] = {}  # run id → decisions of its report already in the decision log

    # -- public --------------------------------------------------------------------------------
    def plan(self, rule_name: str, *, full: bool = False) -> RunReport:
        """Dry run: read, resolve and diff, and report what ``sync`` would do. Writes no state."""
        return self._run(self.config.rule(rule_name), dry=True, force_full=full)

    def sync(self, rule_name: str, *, full: bool = False) -> RunReport:
        return self._run(self.config.rule(rule_name), dry=False, force_full=full)

    def resolve_target(self, rule: Rule) -> Target:
        """The rule's target container and member status, checked. Raises ``FatalError`` when the rule
        cannot write there: a container of a kind or state that refuses writes, a missing status."""
        conn = self._connector(rule.target.connection)
        container = conn.find_container(rule.target.key, rule.target.container_name)
        refusal = target_refusal(conn.system, container.kind)
        if not container.writable:
            refusal = refusal or f"{conn.system} says {container.name!r} cannot be written"
        if refusal:
            raise FatalError(f"rule {rule.name!r}: cannot write to {container.name!r}: {refusal}")
        status = rule.target.status
        if container.has_status:
            if status is None:
                raise FatalError(f"rule {rule.name!r}: {container.name!r} needs a member status ('status:')")
            found = container.status(status)
            if found is None:
                labels = ", ".join(s.label for s in container.statuses)
                raise FatalError(
                    f"rule {rule.name!r}: {container.name!r} has no member status {status!r}; it has {labels}"
                )
            status = found.label
        return Target(conn, container, status)

    def open_source(self, rule: Rule, now: datetime, *, full: bool = False) -> SourceRead:
        """Start reading the rule's source: in full when ``full`` (or when the rule's watermark, segment or
        full-read schedule says so), else since the watermark less the look-back. A source whose container
        reports a membership version that has not moved since the last clean full read, with nothing left
        to retry, is not read at all (an incremental read of nothing). Writes no state."""
        source = self._connector(rule.source.connection)
        mark, full_read_at = self.store.watermark(rule.name)
        every = duration_seconds(self.config.defaults.full_read_every)
        due = mark is None or full_read_at is None or (now - full_read_at).total_seconds() >= every
        segment = rule.source.parsed_segment
        if segment is not None:
            if not isinstance(source, SupportsSegments):
                raise FatalError(f"rule {rule.name!r}: {source.system} cannot read segments")
            return SourceRead(iter(source.read_segment(segment)), True, mark, None)
        container = source.find_container(rule.source.key, rule.source.container_name)
        version = container.membership_version
        if (
            not (full or due)
            and version is not None
            and version == self.store.source_version(rule.name)
            and not self._retryable(rule)
        ):
            return SourceRead(iter(()), False, mark, version, unchanged=True)
        if full or due or not source.reads_incrementally:
            return SourceRead(iter(source.read_members(container)), True, mark, version)
        assert mark is not None
        lookback = timedelta(seconds=duration_seconds(self.config.defaults.lookback))
        since = Watermark(mark.at - lookback, mark.tie_id)
        return SourceRead(iter(source.read_members(container, since=since, until=now)), False, mark, version)

    def read_source(
        self, rule: Rule, report: RunReport, now: datetime, *, full: bool = False
    ) -> tuple[list[MemberRecord], bool, Watermark | None]:
        """The whole of ``open_source``'s read at once (the reconciler compares whole sets). Returns the
        records, whether the read was full, and the watermark it started from; sets ``report.read`` and
        ``report.full_read``. Writes no state."""
        read = self.open_source(rule, now, full=full)
        rows = list(read.rows)
        report.full_read = read.full
        report.read = len(rows)
        return rows, read.full, read.mark

    def write(
        self,
        rule: Rule,
        target: Target,
        items: Sequence[Item],
        report: RunReport,
        now: datetime,
        *,
        settle: Callable[[Item, ChangeOutcome], None] | None = None,
    ) -> bool:
        """Send ``items`` to ``target`` in batches of the connector's ``write_batch_size`` (or, when it
        ``SupportsBulkApply`` and they number more than its ``bulk_threshold``, in chunks of its
        ``bulk_batch_size`` through ``apply_bulk``), record each outcome in the ledger, then send the follow-ups the outcomes call for (a member already there with
        a lower status is raised; ``latest_wins`` moves a member out of an occupied exclusive slot).

        Each add is written to the ledger as ``pending`` and owned before its batch leaves, and each
        batch's decisions go to the decision log as soon as its outcomes are recorded, so a run killed at
        any point converges on rerun and ``conflicts``/``explain`` still show what it did. (A report with
        no run id, such as the reconciler's scratch report, is left for its caller to log.) The lease is
        renewed after each batch; ``should_stop`` is asked before each, and a stop sets
        ``report.message``. ``settle`` is told each item's outcome (follow-ups aside).

        Returns True when every item reached a final state, False when some failed or the run stopped.
        Raises what the connector raises for a whole batch, except ``TransientError``: that marks each of
        the batch's items failed, to be retried by a later run.
        """
        apply, step = self._writer(target, len(items))
        total, done, clean = len(items), 0, True
        self._log_decisions(rule, report, now)  # what the run decided before it writes
        follow_up: list[Item] = []
        for i in range(0, total, step):
            if self.should_stop():
                report.message = "stopped on request after the current batch; the next run continues"
                return False
            batch = list(items[i : i + step])
            outcomes = self._send(rule, target, batch, now, apply)
            if settle is not None:
                for item, outcome in zip([it for it in batch if it.target is not None], outcomes, strict=True):
                    settle(item, outcome)
            more, final = self._recorded(rule, target, report, batch, outcomes, now)
            follow_up.extend(more)
            clean = clean and final
            done += len(batch)
            self.progress("apply", done, total)
            self._renew_lease(rule)
        follow_up = [it for it in follow_up if it.target is not None]
        apply, step = self._writer(target, len(follow_up))
        for j in range(0, len(follow_up), step):
            batch = follow_up[j : j + step]
            outcomes = self._send(rule, target, batch, now, apply)
            clean = self._recorded(rule, target, report, batch, outcomes, now)[1] and clean
        return clean

    def _recorded(
        self,
        rule: Rule,
        target: Target,
        report: RunReport,
        batch: list[Item],
        outcomes: list[ChangeOutcome],
        now: datetime,
    ) -> tuple[list[Item], bool]:
        """Record a sent batch's outcomes in the ledger and its decisions in the decision log; returns the
        follow-ups they call for, and whether every outcome reached a final state."""
        follow_up = record(self.store, self.config.defaults.max_attempts, rule, target, report, batch, outcomes, now)
        self._log_decisions(rule, report, now)
        return follow_up, all(o.state is not OutcomeState.FAILED for o in outcomes)

    def _renew_lease(self, rule: Rule) -> None:
        self.store.try_lease(rule.name, self.holder, self.clock() + timedelta(seconds=LEASE_SECONDS), self.clock())

    # -- the run -------------------------------------------------------------------------------
    def _run(self, rule: Rule, *, dry: bool, force_full: bool) -> RunReport:
        report = RunReport(rule.name, "plan" if dry else "sync")
        now = self.clock()
        if not dry:
            expires = now + timedelta(seconds=LEASE_SECONDS)
            if not self.store.try_lease(rule.name, self.holder, expires, now) and not self._take_from_dead(
                rule.name, expires
            ):
                raise LeaseHeldError(f"rule {rule.name!r} is running in another worker; this run did nothing")
            report.run_id = self.store.start_run(self.config.client, rule.name, report.mode, now)
        before = {name: c.usage().calls for name, c in self.connectors.items()}
        started = time.perf_counter()
        try:
            self._execute(rule, report, now, dry=dry, force_full=force_full)
        except QuotaExhaustedError as exc:
            report.status, report.message = "stopped", str(exc)
        except CampaignBridgeError as exc:
            report.status, report.message = "failed", str(exc)
            if isinstance(exc, FatalError):
                self._finish(rule, report, before, started, now, dry)
                raise
        finally:
            if not dry:
                self.store.release_lease(rule.name, self.holder)
        self._finish(rule, report, before, started, now, dry)
        return report

    def _take_from_dead(self, rule: str, expires: datetime) -> bool:
        """Take the lease of a worker of this host whose process is gone (killed, crashed): the next run
        need not wait ``LEASE_SECONDS`` for it. A worker elsewhere is never presumed dead."""
        holder = self.store.lease_holder(rule)
        host, _, rest = (holder or "").partition(":")
        pid = rest.partition(":")[0]
        if host != socket.gethostname() or not pid.isdigit() or holder == self.holder or _alive(int(pid)):
            return False
        assert holder is not None
        return self.store.take_over_lease(rule, holder, self.holder, expires)

    def _finish(
        self, rule: Rule, report: RunReport, before: dict[str, int], started: float, now: datetime, dry: bool
    ) -> None:
        report.api_calls = {n: c.usage().calls - before.get(n, 0) for n, c in self.connectors.items()}
        report.api_calls = {n: v for n, v in report.api_calls.items() if v}
        report.timings["total"] = time.perf_counter() - started
        if report.conflicts:
            report.counts["conflicts"] = len(report.conflicts)
        if dry or report.run_id is None:
            return
        self._log_decisions(rule, report, now)
        self._logged.pop(report.run_id, None)
        self.store.finish_run(
            report.run_id,
            status=report.status,
            finished_at=self.clock(),
            read_full=report.full_read,
            counts=report.counts,
            api_calls=report.api_calls,
            timings={k: round(v, 3) for k, v in report.timings.items()},
            error=report.message or None,
        )

    def _log_decisions(self, rule: Rule, report: RunReport, now: datetime) -> None:
        """Append the report's decisions not logged yet to the decision log, in the order they were made.

        Called after each recorded batch and when the run finishes: a run killed in between leaves what it
        did so far, and no decision is logged twice. A report with no run id (``plan``) is not logged.
        """
        if report.run_id is None:
            return
        logged = self._logged.get(report.run_id, 0)
        if len(report.decisions) > logged:
            self.store.log([d.row(report.run_id, rule.name, now) for d in report.decisions[logged:]])
            self._logged[report.run_id] = len(report.decisions)

    def _connector(self, name: str) -> Connector:
        try:
            return self.connectors[name]
        except KeyError:
            raise FatalError(f"connection {name!r} is not configured") from None

    def _execute(self, rule: Rule, report: RunReport, now: datetime, *, dry: bool, force_full: bool) -> None:
        """Read the source a chunk at a time, planning each chunk as it comes (resolve, snapshot, diff,
        find target records); then plan the persons who left, hold or apply. Memory holds the plan and
        person keys, never the whole read."""
        for phase in ("read", "resolve", "plan"):
            report.timings[phase] = 0.0
        t0 = time.perf_counter()
        target = self.resolve_target(rule)
        read = self.open_source(rule, now, full=force_full)
        report.full_read = read.full
        report.timings["read"] += time.perf_counter() - t0
        if read.unchanged:
            report.message = "the source's members have not changed since the last full read: nothing read"
        walk = Walk(
            rule=rule,
            report=report,
            differ=Differ(self.config, self.store, rule, target, report),
            sources=SourceResolver(self.store, rule.source.connection, now, persist=not dry),
            targets=None if dry else TargetResolver(self.store, target.connector, rule.match, now, persist=True),
            token=uuid.uuid4().hex if read.full and not dry else None,
            wanted={s.casefold() for s in rule.source.member_status or ()},
            eager=not dry and not self._could_hold(rule),
        )
        retry = self._retryable(rule)
        # The next chunk is fetched, and this one's target records looked up, while a chunk is planned;
        # not when one connector is both ends.
        apart = self._connector(rule.source.connection) is not target.connector
        with contextlib.ExitStack() as stack:
            ahead: ReadAhead | None = None
            fetched: Iterable[list[MemberRecord]] = chunks_of(read.rows, CHUNK, report.timings, FIRST_CHUNK)
            if apart:
                idle = (lambda: self._while_waiting(walk, target, now)) if not dry else None
                ahead = stack.enter_context(
                    ReadAhead(read.rows, CHUNK, report.timings, READ_AHEAD, FIRST_CHUNK, idle=idle)
                )
                fetched = ahead
                if walk.targets is not None:
                    # A target that takes concurrent calls gets two lookups at a time: a paced vendor's
                    # window is then spent in half the time, whatever each request's round trip.
                    workers = 2 if target.connector.concurrent_calls else 1
                    walk.pool = stack.enter_context(ThreadPoolExecutor(workers, "campaign-bridge-lookup"))
                    if walk.eager and target.connector.concurrent_calls:
                        # …and its writes go from a thread of their own: the run plans on while a paced
                        # target finds them a slot, instead of waiting for it.
                        walk.writer = stack.enter_context(ThreadPoolExecutor(1, "campaign-bridge-write"))
                    stack.callback(forget, walk)
            for chunk in fetched:
                self._plan_chunk(walk, chunk)
                if walk.eager:
                    self._write_ready(walk, target, now, idle=ahead is not None and ahead.waiting())
                if self._stopped(walk, target, now):
                    return  # persons not read yet must not look gone: stop before planning removals
            if walk.writer is not None:
                self._write_ready(walk, target, now, last=True)  # sent while the store finds the leavers
            t0 = time.perf_counter()
            leavers, still = self._leavers(walk, read.full, retry)  # while the last lookups are under way
            report.timings["plan"] += time.perf_counter() - t0
            if walk.eager:
                # The last lookups come in one by one: write what each brings while the next is under
                # way (a write or two more than whole batches), so that little is left for the end.
                while walk.inflight:
                    walk.settle(wait=True, one=True)
                    self._write_ready(walk, target, now, last=True)
                    if self._stopped(walk, target, now):
                        return
            self._take_writes(walk, target, now, wait=True)
            t0 = time.perf_counter()
            self._plan_leavers(walk, leavers, still)
            report.timings["plan"] += time.perf_counter() - t0

        if self._held(rule, report):
            report.status = "held"
            if not dry and report.run_id is not None:
                self.store.save_plan(report.run_id, rule.name, True, report.as_json())
            return
        if dry:
            report.status = "planned"
            return

        t0 = time.perf_counter()
        clean = self._apply(rule, target, report, walk, now) and walk.clean
        report.timings["apply"] = report.timings.get("apply", 0.0) + time.perf_counter() - t0
        if clean and not self.should_stop():
            new_mark = advance(read.mark, walk.newest, now)
            version = read.version if read.full else None
            self.store.set_watermark(rule.name, new_mark, now if read.full else None, now, source_version=version)
            report.status = "ok"
        else:
            report.status = "partial" if report.status == "running" else report.status

    def _while_waiting(self, walk: Walk, target: Target, now: datetime) -> None:
        """While the run waits for the source's next chunk: take in the lookups that are in and, an eager
        run, send what is ready (``_write_ready``'s ``idle``), so that less is left for the end."""
        if walk.eager:
            self._write_ready(walk, target, now, idle=True)
        else:
            walk.settle(wait=False)

    def _stopped(self, walk: Walk, target: Target, now: datetime) -> bool:
        """Whether a stop was asked for while the run reads (or takes in its last lookups); if so the run
        drops the lookups not started, records the writes under way, and ends partial, before it plans
        any removal; the next run continues."""
        if not self.should_stop():
            return False
        for _, _, lookup in walk.inflight:
            lookup.cancel()
        self._take_writes(walk, target, now, wait=True)
        walk.report.message = "stopped on request while reading the source; the next run continues"
        walk.report.status = "partial"
        return True

    def _plan_chunk(self, walk: Walk, chunk: list[MemberRecord]) -> None:
        """Resolve a chunk of source records, write them to the snapshot, plan their persons."""
        rule, report = walk.rule, walk.report
        t0 = time.perf_counter()
        report.read += len(chunk)
        self.progress("read", report.read, report.read)
        walk.newest = newest(walk.newest, chunk)
        resolved, decisions = walk.sources.resolve(chunk)
        report.decisions.extend(decisions)
        upserts, deletes, emails = walk.sort(resolved)
        if walk.sources.persist:
            walk.gone |= self.store.update_snapshot(rule.name, upserts, deletes, seen_in=walk.token)
        else:
            walk.gone |= set(self.store.snapshot_records(rule.name, deletes).values())
        walk.removed_records.update(deletes)
        fresh = {u.person_key for u in upserts} - walk.present
        walk.present |= fresh
        t1 = time.perf_counter()
        report.timings["resolve"] += t1 - t0
        if fresh:
            self._plan(walk, fresh, fresh, emails)
        report.timings["plan"] += time.perf_counter() - t1
        walk.find_targets(final=False)

    def _leavers(self, walk: Walk, full: bool, retry: set[str]) -> tuple[list[str], set[str]]:
        """The persons the read did not find in the source (once all its chunks are read): those whose
        records left, those the rule's ledger holds (a full read), and those whose last write must be
        retried; and, of those, the ones still in the source through another record.

        ``gone`` counts the persons of the records that left as the crosswalk knows them, even when the
        snapshot has already forgotten the record: a run that crashed after writing the snapshot but
        before removing the member must not make the next run blind to the removal.
        """
        rule = walk.rule
        still: set[str] = set()
        if full:
            if walk.token is not None:
                walk.gone |= self.store.drop_unseen(rule.name, walk.token)
            else:
                walk.gone |= self.store.snapshot_persons(rule.name)
            walk.gone |= self.store.ledger_keys(rule.name)
        else:
            # A person whose record left may still be in the source through another record (Lead + Contact).
            still = self.store.persons_with_other_records(rule.name, walk.gone - walk.present, walk.removed_records)
        return sorted((walk.gone | retry) - walk.present), still

    def _plan_leavers(self, walk: Walk, leavers: list[str], still: set[str]) -> None:
        """Plan the persons ``_leavers`` found, then look up the target records of every add not looked up yet."""
        for i in range(0, len(leavers), CHUNK):
            part = leavers[i : i + CHUNK]
            self._plan(walk, part, still, self.store.persons(part))
        walk.find_targets(final=True)

    def _plan(
        self, walk: Walk, keys: Collection[str], desired: Collection[str], emails: Mapping[str, str | None]
    ) -> None:
        """Diff ``keys`` against their ledger rows; queue the new adds for a target lookup, or (an eager
        run) for writing when their target is known."""
        report = walk.report
        first = len(report.adds)
        walk.differ.diff(keys, desired, self.store.ledger(walk.rule.name, keys), emails)
        for item in report.adds[first:]:
            if item.target is None:
                walk.lookups.append(item)
            elif walk.eager:
                walk.ready.append(item)

    def _write_ready(
        self, walk: Walk, target: Target, now: datetime, *, idle: bool = False, last: bool = False
    ) -> None:
        """Eager runs: write the planned adds that have a target, a whole ``_eager_size`` at a time; or,
        ``idle`` (the next chunk is not read yet, so the run would wait), all of them once they are
        ``EAGER_WRITE`` (in whole write batches unless a Bulk job carries them), so that a paced source's
        wait is spent writing; or, ``last`` (the read is over and the lookups come in one by one), all of
        them, so that little is left to write when the last lookup is in; a Bulk job, whose calls do not
        grow with its size, waits for ``EAGER_WRITE`` of them while lookups are still to come.

        A target that takes ``concurrent_calls`` is written to while its lookups go on; any other waits
        for them first, so it is written to only when the lookups in flight would not fill a write. The
        outcomes of earlier writes that are in are recorded after the new write is sent, not before."""
        self._send_ready(walk, target, now, idle=idle, last=last)
        self._take_writes(walk, target, now, wait=False)

    def _send_ready(self, walk: Walk, target: Target, now: datetime, *, idle: bool, last: bool) -> None:
        size = _eager_size(target)
        least = min(size, EAGER_WRITE) if idle else size
        if target.connector.concurrent_calls:
            walk.settle(wait=False)
        elif not last and len(walk.ready) + sum(len(items) for items, _, _ in walk.inflight) < least:
            return  # not enough yet: leave the lookups in flight running
        else:
            walk.settle()
        if last:
            least = EAGER_WRITE if walk.inflight and _bulk(target.connector, EAGER_WRITE) else 1
        if len(walk.ready) < least:
            return
        take = len(walk.ready) // size * size
        if idle or last:
            step = self._writer(target, len(walk.ready))[1]
            whole = len(walk.ready) // step * step
            # one Bulk job, whatever its size; else whole write batches, and the rest once no lookup is left
            take = (
                len(walk.ready) if _bulk(target.connector, len(walk.ready)) or (last and not walk.inflight) else whole
            )
        if take == 0:
            return
        items, walk.ready = walk.ready[:take], walk.ready[take:]
        for item in items:
            item.sent = True
        t0 = time.perf_counter()
        if walk.writer is not None:
            self._send_ahead(walk, target, items, now)
        else:
            walk.clean = self.write(walk.rule, target, items, walk.report, now) and walk.clean
        walk.report.timings["apply"] = walk.report.timings.get("apply", 0.0) + time.perf_counter() - t0

    def _send_ahead(self, walk: Walk, target: Target, items: list[Item], now: datetime) -> None:
        """Write the intents of ``items`` now and hand their batches to ``walk.writer``, so the run goes on
        planning while a paced target finds them a slot; ``_take_writes`` records the outcomes."""
        assert walk.writer is not None
        self._log_decisions(walk.rule, walk.report, now)  # what the run decided before it writes
        apply, step = self._writer(target, len(items))
        for i in range(0, len(items), step):
            batch = items[i : i + step]
            changes = self._intend(walk.rule, target, batch, now)
            walk.writes.append((batch, walk.writer.submit(_call, apply, target.container, changes)))

    def _take_writes(self, walk: Walk, target: Target, now: datetime, *, wait: bool) -> None:
        """Record the outcomes of the writes sent ahead, oldest first: those that are in, or (``wait``)
        all. Follow-ups they call for (a status to raise) are written with the rest of the plan."""
        rule, report = walk.rule, walk.report
        t0 = time.perf_counter()
        while walk.writes and (wait or walk.writes[0][1].done()):
            batch, future = walk.writes.popleft()
            follow_up, final = self._recorded(rule, target, report, batch, future.result(), now)
            walk.follow.extend(follow_up)
            walk.clean = walk.clean and final
            walk.written += len(batch)
            self.progress("apply", walk.written, walk.written)
            self._renew_lease(rule)
        report.timings["apply"] = report.timings.get("apply", 0.0) + time.perf_counter() - t0

    def _could_hold(self, rule: Rule) -> bool:
        """Whether this run's plan might be held: only when the rule has ledger rows it could remove, more
        than its safety limits allow. A rule with none (a first sync) can never be held."""
        counts = self.store.ledger_counts(rule.name)
        removable = sum(n for state, n in counts.items() if state != "owned")
        safety = self.config.safety_of(rule)
        return removable > 0 and (removable > safety.max_removals or removable >= MIN_REMOVALS_FOR_FRACTION)

    def _retryable(self, rule: Rule) -> set[str]:
        """Persons whose last write did not reach a final state: failed, or pending (a run died mid-batch)."""
        return self.store.ledger_keys_in_state(rule.name, ("failed", "pending"))

    def _held(self, rule: Rule, report: RunReport) -> bool:
        safety = self.config.safety_of(rule)
        removing = sum(1 for i in report.removals if i.owned)
        if not removing:
            return False
        owned = self.store.ledger_counts(rule.name).get("owned", 0)
        over_count = removing > safety.max_removals
        over_share = (
            removing >= MIN_REMOVALS_FOR_FRACTION and owned > 0 and removing / owned > safety.max_removal_fraction
        )
        if not (over_count or over_share):
            return False
        why = (
            f"the plan removes {removing} members, more than max_removals={safety.max_removals}"
            if over_count
            else f"the plan removes {removing} of {owned} members, more than max_removal_fraction={safety.max_removal_fraction}"
        )
        report.message = f"held, not applied: {why}; check the source, then raise the limit or run with --full"
        report.decisions.append(Decision(Kind.HELD_PLAN, None, None, report.message, rule.target.container_name))
        return True

    # -- apply ---------------------------------------------------------------------------------
    def _apply(self, rule: Rule, target: Target, report: RunReport, walk: Walk, now: datetime) -> bool:
        """Apply the plan in batches; True when every item reached a final state."""
        releases = [i for i in report.removals if not i.owned]
        removals = [i for i in report.removals if i.owned]
        self._release(rule, releases)
        adds = [i for i in report.adds if not i.sent]
        if walk.to_create and walk.targets is not None:
            created, decisions, why = walk.targets.create(walk.to_create)
            report.decisions.extend(decisions)
            walk.unresolved.update(why)
            for item in adds:
                if item.target is None:
                    item.target = created.get(item.person_key)
        if walk.looked_up:
            blocked = [i for i in adds if i.target is None]
            rows = [(i, None, "rejected", walk.unresolved.get(i.person_key, "unmatched")) for i in blocked]
            write_rows(self.store, rule, target, rows, now)
            report.bump("unmatched", len(blocked))
            adds = [i for i in adds if i.target is not None]
        return self.write(rule, target, [*adds, *walk.follow, *report.status_changes, *removals], report, now)

    @staticmethod
    def _writer(target: Target, count: int) -> tuple[Apply, int]:
        """How ``count`` changes go to ``target``: the apply function and the most changes per call."""
        conn = target.connector
        if _bulk(conn, count):
            return conn.apply_bulk, conn.bulk_batch_size
        return conn.apply_changes, conn.write_batch_size

    def _send(
        self, rule: Rule, target: Target, batch: list[Item], now: datetime, apply: Apply | None = None
    ) -> list[ChangeOutcome]:
        """Record the intent of the batch's adds, then send it; one outcome per item with a target.
        ``apply`` is the connector's ``apply_changes`` unless given (``apply_bulk`` for a bulk chunk)."""
        changes = self._intend(rule, target, batch, now)
        return _call(apply or target.connector.apply_changes, target.container, changes)

    def _intend(self, rule: Rule, target: Target, batch: list[Item], now: datetime) -> list[Change]:
        """The changes of the batch's items that have a target, after writing the intent of its adds.

        Each add is written to the ledger as ``pending`` and owned *before* the batch leaves, so a run
        killed between the vendor's answer and ``record`` leaves a row saying "this rule may have added
        it": the next run sends the add again, and a member it then finds present is the rule's own (a
        mirror rule removes it when it leaves the source) rather than an orphan nobody removes.
        """
        sendable = [it for it in batch if it.target is not None]
        intents = [
            (dataclasses.replace(it, status=None, owned=True), None, "pending", None)
            for it in sendable
            if it.action is ChangeAction.ADD
        ]
        if intents:
            write_rows(self.store, rule, target, intents, now)
        return [Change(it.action, it.target, it.status, it.replace) for it in sendable if it.target is not None]

    def _release(self, rule: Rule, items: list[Item]) -> None:
        """Forget members this rule no longer wants but does not own; hand shared ones to the other rule."""
        if not items:
            return
        handover = []
        for it in items:
            if it.other_rule:
                rows = self.store.ledger(it.other_rule, [it.person_key])
                row = rows.get(it.person_key)
                if row is not None:
                    handover.append(dataclasses.replace(row, owned=True))
        self.store.write_ledger(handover, [(rule.name, it.person_key) for it in items])


def _call(apply: Apply, container: Container, changes: list[Change]) -> list[ChangeOutcome]:
    """``apply`` the changes; a ``TransientError`` marks each of them failed, to be retried by a later run."""
    try:
        return apply(container, changes)
    except TransientError as exc:
        return [ChangeOutcome(c, OutcomeState.FAILED, "TRANSIENT", str(exc)) for c in changes]


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bulk(conn: Connector, count: int) -> TypeGuard[SupportsBulkApply]:
    """Whether ``count`` changes go to ``conn`` through ``apply_bulk`` (more than its ``bulk_threshold``)."""
    return isinstance(conn, SupportsBulkApply) and count > conn.bulk_threshold


def _eager_size(target: Target) -> int:
    """How many adds an eager run writes at a time: one Bulk job of ``EAGER_BULK`` where the target has
    them, else whole write batches, about ``EAGER_WRITE``."""
    conn = target.connector
    if _bulk(conn, EAGER_BULK):
        return min(EAGER_BULK, conn.bulk_batch_size)
    step = conn.write_batch_size
    return max(step, EAGER_WRITE // step * step)


# keep Resolved importable from here for callers that type source rows
__all__ = ["Engine", "Resolved", "RunReport", "Target", "utcnow"]
