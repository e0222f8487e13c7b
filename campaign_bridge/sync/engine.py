"""The engine: how one rule runs (DESIGN §5), in the steps of docs/architecture.md.

lease and run record (``scope.py``) → open the source (``source.py``) → a chunk at a time: resolve
identities, snapshot, diff against the ledger (``walk.py``), find target records and, when the plan cannot
be held, write the adds while reading (``pipeline.py``) → plan the persons who left → hold the plan over the
safety limit (``guard.py``; ``plan`` stops here) → apply in batches with per-item outcomes
(``writer.py``) → watermark advanced only when the whole run succeeded.

Invariants the tests hold us to: a rerun with no source change writes nothing; ``mirror`` removes only
what this rule added; a member status never moves to a lower rank; a crash at any point, rerun,
converges with no duplicates and nothing lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.sync.diff import Differ
from campaign_bridge.sync.guard import SafetyGuard
from campaign_bridge.sync.identity import Resolved, SourceResolver, TargetResolver
from campaign_bridge.sync.intents import settle_intents
from campaign_bridge.sync.pipeline import Pipeline, Tuning
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.record import write_rows
from campaign_bridge.sync.scope import LEASE_SECONDS, RunScope, RunStarted, new_holder, utcnow
from campaign_bridge.sync.source import Sources, remembered
from campaign_bridge.sync.store.store import Store
from campaign_bridge.sync.target import Target, connector_of, resolve_target
from campaign_bridge.sync.walk import Walk, advance
from campaign_bridge.sync.writer import BatchWriter, DecisionLog

Clock = Callable[[], datetime]
Progress = Callable[[str, int, int], None]


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
        on_run_started: RunStarted | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.config, self.store, self.connectors, self.clock = config, store, connectors, clock
        self.progress = progress or (lambda stage, done, total: None)
        self.should_stop = should_stop
        self.tuning = tuning  # None: ``Tuning.default()`` when each run starts
        self.scope = RunScope(
            store, connectors, client=config.client, clock=clock, holder=holder, on_run_started=on_run_started
        )
        self.holder = self.scope.holder
        self.sources = Sources(config, store, connectors)
        self.guard = SafetyGuard(config, store)

    def plan(self, rule_name: str, *, full: bool = False) -> RunReport:
        """Dry run: read, resolve and diff, and report what ``sync`` would do. Writes no state."""
        return self._run(self.config.rule(rule_name), dry=True, full=full)

    def sync(self, rule_name: str, *, full: bool = False) -> RunReport:
        """Run the rule. Raises ``LeaseHeldError`` when another worker runs it, ``FatalError`` (after
        recording the run as failed) when a person must act."""
        return self._run(self.config.rule(rule_name), dry=False, full=full)

    def _run(self, rule: Rule, *, dry: bool, full: bool) -> RunReport:
        report = RunReport(rule.name, "plan" if dry else "sync")
        log: DecisionLog | None = None

        def work(now: datetime) -> None:
            nonlocal log
            log = DecisionLog(self.store, report, now)
            self._execute(rule, report, now, log, dry=dry, full=full)

        def finishing() -> None:
            if report.conflicts:
                report.counts["conflicts"] = len(report.conflicts)
            if log is not None:
                log.flush()

        self.scope.run(report, work, record=not dry, finishing=finishing)
        return report

    def _execute(
        self, rule: Rule, report: RunReport, now: datetime, log: DecisionLog, *, dry: bool, full: bool
    ) -> None:
        """Read the source a chunk at a time, planning each chunk as it comes; then plan the persons who
        left, hold or apply. Memory holds the plan and person keys, never the whole read."""
        tuning = self.tuning or Tuning.default()
        for phase in ("read", "resolve", "plan"):
            report.timings[phase] = 0.0
        t0 = time.perf_counter()
        target = resolve_target(rule, self.connectors)
        if not dry:
            settle_intents(self.store, rule, target, report, now)  # what a killed run's adds became
        read = self.sources.open(rule, now, full=full)
        report.full_read = read.full
        report.timings["read"] += time.perf_counter() - t0
        if read.unchanged:
            report.message = "the source's members have not changed since the last full read: nothing read"
        walk = Walk(
            store=self.store,
            rule=rule,
            report=report,
            differ=Differ(self.config, self.store, rule, target, report),
            sources=SourceResolver(self.store, rule.source.connection, now, persist=not dry),
            token=uuid.uuid4().hex if read.full and not dry else None,
            wanted={s.casefold() for s in rule.source.member_status or rule.target.status_map or ()},
            chunk_size=tuning.chunk,
            progress=self.progress,
            lapsed=now - read.lapse if read.lapse is not None else None,
        )
        writer = None if dry else self._writer(rule, target, report, now, log)
        targets = None if dry else TargetResolver(self.store, target.connector, rule.match, now, persist=True)
        retry = self.sources.retryable(rule)
        # The removal share is judged against the members owned now, before this run writes its adds
        # (they go out while the source is read, how many of them before the guard depending on timing).
        owned_at_start = self.guard.owned_now(rule)
        with Pipeline(
            read.rows,
            report,
            target,
            targets=targets,
            writer=writer,
            # Adds go out while the source is read (any run with a writer), so a run that is killed or
            # stopped every few minutes still makes progress; removals wait for the whole read and the guard.
            tail=not dry and not self.guard.could_hold(rule),
            # The next chunk is fetched, and this one's target records looked up, while a chunk is
            # planned; not when one connector is both ends.
            apart=connector_of(self.connectors, rule.source.connection) is not target.connector,
            should_stop=self.should_stop,
            tuning=tuning,
        ) as pipe:
            for chunk in pipe.chunks:
                pipe.take(walk.read_chunk(chunk))
                pipe.after_chunk()
                if pipe.stopped():
                    return  # persons not read yet must not look gone: stop before planning removals
            pipe.read_done()
            leavers, still = walk.leavers(read.full, retry)  # while the last lookups are under way
            if not pipe.drain():
                return
            pipe.take(walk.plan_leavers(leavers, still))
            pipe.find_targets(final=True)

        # Adds went out while reading; only removals need the whole plan, so only they are held.
        held = self.guard.holds(rule, report, owned_at_start)
        if held and writer is not None and report.run_id is not None:
            # the held removals' person keys: what a person's approval of this plan covers (guard.py)
            summary = {**report.as_json(), "held_removals": self.guard.held_keys(report)}
            self.store.save_plan(report.run_id, rule.name, True, summary)
        if writer is None:
            report.status = "held" if held else "planned"
            return

        t0 = time.perf_counter()
        clean = self._apply(rule, target, report, pipe, writer, now, removals=not held) and pipe.clean
        report.timings["apply"] = report.timings.get("apply", 0.0) + time.perf_counter() - t0
        if held:
            report.status = "held"
        elif clean and not self.should_stop():
            floor = self.sources.floor(rule, now)
            newest = walk.newest if floor is None or (walk.newest is not None and walk.newest > floor) else floor
            new_mark = advance(read.mark, newest, now)
            # Only a full read that found its container again restarts the full-read schedule and is remembered.
            scheduled = read.full and read.found
            version = read.version if scheduled else None
            known = remembered(rule, read.container, report.read) if scheduled else None
            self.store.set_watermark(
                rule.name, new_mark, now if scheduled else None, now, source_version=version, source_container=known
            )
            report.status = "ok"
        else:
            report.status = "partial" if report.status == "running" else report.status

    def _writer(self, rule: Rule, target: Target, report: RunReport, now: datetime, log: DecisionLog) -> BatchWriter:
        return BatchWriter(
            self.store,
            rule,
            target,
            report,
            now,
            max_attempts=self.config.defaults.max_attempts,
            log=log,
            renew=lambda: self.scope.renew(rule.name),
            should_stop=self.should_stop,
            progress=self.progress,
            clock=self.clock,
        )

    def _apply(
        self,
        rule: Rule,
        target: Target,
        report: RunReport,
        pipe: Pipeline,
        writer: BatchWriter,
        now: datetime,
        *,
        removals: bool,
    ) -> bool:
        """Apply the plan in batches: release what the rule no longer wants but does not own, record the adds
        that found no target record, then write (removals only when ``removals``: a held plan's wait);
        True when every item reached a final state."""
        leaving = [i for i in report.removals if i.owned] if removals else []
        if removals:
            self._release(rule, [i for i in report.removals if not i.owned])
        adds, blocked = pipe.last_adds()
        if blocked:
            write_rows(self.store, rule, target, [(i, None, "rejected", why) for i, why in blocked], now)
        if pipe.looked_up:
            report.bump("unmatched", len(blocked))
        return writer.write([*adds, *pipe.follow, *report.status_changes, *leaving])

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
                    handover.append(row._replace(owned=True))
        self.store.write_ledger(handover, [(rule.name, it.person_key) for it in items])


# keep these importable from here for callers that used them before the engine was split
__all__ = ["LEASE_SECONDS", "Engine", "Resolved", "RunReport", "Target", "new_holder", "utcnow"]
