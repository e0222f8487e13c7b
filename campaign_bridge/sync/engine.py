"""The engine: how one rule runs (DESIGN §5).

lease → read (full, or since the watermark with look-back) → resolve identities → desired set →
diff against the ledger → plan (held over the safety limit; ``plan`` stops here) → apply in batches
with per-item outcomes → watermark advanced only when the whole run succeeded.

Invariants the tests hold us to: a rerun with no source change writes nothing; ``mirror`` removes only
what this rule added; a member status never moves to a lower rank; a crash at any point, rerun,
converges with no duplicates and nothing lost.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_bridge.config.models import ClientConfig, ExclusivePolicy, Mode, Rule, duration_seconds
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
    RecordRef,
)
from campaign_bridge.mapping.semantics import target_refusal
from campaign_bridge.sync.identity import Resolved, SourceResolver, TargetResolver
from campaign_bridge.sync.plan import Decision, Item, Kind, RunReport
from campaign_bridge.sync.store.store import LedgerRow, Store

Clock = Callable[[], datetime]
Progress = Callable[[str, int, int], None]
#: A connector's ``apply_changes`` or ``apply_bulk``: one outcome per change, in order.
Apply = Callable[[Container, Sequence[Change]], list[ChangeOutcome]]

#: A lease outlives a crashed worker by at most this long.
LEASE_SECONDS = 15 * 60
#: The removal-fraction limit only applies to plans removing at least this many members.
MIN_REMOVALS_FOR_FRACTION = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_holder() -> str:
    """A lease holder name, ``host:pid:random``: the host and pid let a run take over a dead worker's lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule writes: the target connector, its container, and the member status to set (if any)."""

    connector: Connector
    container: Container
    status: str | None


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

    def read_source(
        self, rule: Rule, report: RunReport, now: datetime, *, full: bool = False
    ) -> tuple[list[MemberRecord], bool, Watermark | None]:
        """Read the rule's source members: in full when ``full`` (or when the rule's watermark, segment or
        full-read schedule says so), else since the watermark less the look-back. Returns the records,
        whether the read was full, and the watermark it started from; sets ``report.read``/``full_read``.
        Writes no state."""
        source = self._connector(rule.source.connection)
        mark, full_read_at = self.store.watermark(rule.name)
        every = duration_seconds(self.config.defaults.full_read_every)
        segment = rule.source.parsed_segment
        whole = (
            full
            or mark is None
            or segment is not None
            or not source.reads_incrementally
            or full_read_at is None
            or (now - full_read_at).total_seconds() >= every
        )
        if segment is not None:
            if not isinstance(source, SupportsSegments):
                raise FatalError(f"rule {rule.name!r}: {source.system} cannot read segments")
            rows = list(source.read_segment(segment))
        else:
            container = source.find_container(rule.source.key, rule.source.container_name)
            if whole:
                rows = list(source.read_members(container))
            else:
                assert mark is not None
                lookback = timedelta(seconds=duration_seconds(self.config.defaults.lookback))
                rows = list(source.read_members(container, since=Watermark(mark.at - lookback, mark.tie_id), until=now))
        report.full_read = whole
        report.read = len(rows)
        return rows, whole, mark

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
            follow_up.extend(self._record(rule, target, report, batch, outcomes, now))
            self._log_decisions(rule, report, now)
            clean = clean and all(o.state is not OutcomeState.FAILED for o in outcomes)
            done += len(batch)
            self.progress("apply", done, total)
            self.store.try_lease(rule.name, self.holder, self.clock() + timedelta(seconds=LEASE_SECONDS), self.clock())
        follow_up = [it for it in follow_up if it.target is not None]
        apply, step = self._writer(target, len(follow_up))
        for j in range(0, len(follow_up), step):
            batch = follow_up[j : j + step]
            outcomes = self._send(rule, target, batch, now, apply)
            self._record(rule, target, report, batch, outcomes, now)
            self._log_decisions(rule, report, now)
            clean = clean and all(o.state is not OutcomeState.FAILED for o in outcomes)
        return clean

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
        t0 = time.perf_counter()
        target = self.resolve_target(rule)
        records, full, old_mark = self.read_source(rule, report, now, full=force_full)
        report.timings["read"] = time.perf_counter() - t0
        self.progress("read", len(records), len(records))

        t0 = time.perf_counter()
        resolver = SourceResolver(self.store, rule.source.connection, now, persist=not dry)
        resolved, decisions = resolver.resolve(records)
        report.decisions.extend(decisions)
        wanted_statuses = {s.casefold() for s in rule.source.member_status or ()}
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        leaving: set[str] = set()
        emails: dict[str, str | None] = {}
        for r in resolved:
            rid = (
                r.record.person.survivor.id
                if r.record.person.survivor != r.record.person.ref
                else r.record.person.ref.id
            )
            qualifies = not r.record.removed and not r.record.person.deleted
            if qualifies and wanted_statuses:
                qualifies = (r.record.status or "").casefold() in wanted_statuses
            if qualifies:
                upserts.append(
                    {
                        "record_id": rid,
                        "person_key": r.person_key,
                        "status": r.record.status,
                        "modified_at": r.record.modified_at,
                    }
                )
                emails[r.person_key] = r.email
            else:
                deletes.append(rid)
                leaving.add(r.person_key)
                emails.setdefault(r.person_key, r.email)
        desired, touched = self._desired(rule, upserts, deletes, leaving, full)
        report.timings["resolve"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        ledger = self.store.ledger(rule.name, None if full else touched | self._retryable(rule))
        touched |= set(ledger) if full else set()
        touched |= self._retryable(rule)
        missing_emails = [k for k in touched if k not in emails]
        if missing_emails:
            emails.update(self.store.persons(missing_emails))
        self._diff(rule, target, report, desired, touched, ledger, emails)
        report.timings["plan"] = time.perf_counter() - t0
        if not dry:
            # The source snapshot is what the rule saw; it is written even if the plan is held.
            self.store.update_snapshot(rule.name, upserts, deletes, replace=full)

        if self._held(rule, report, ledger):
            report.status = "held"
            if not dry and report.run_id is not None:
                self.store.save_plan(report.run_id, rule.name, True, report.as_json())
            return
        if dry:
            report.status = "planned"
            return

        t0 = time.perf_counter()
        clean = self._apply(rule, target, report, ledger, now)
        report.timings["apply"] = time.perf_counter() - t0
        if clean and not self.should_stop():
            new_mark = _advance(old_mark, records, now)
            self.store.set_watermark(rule.name, new_mark, now if full else None, now)
            report.status = "ok"
        else:
            report.status = "partial" if report.status == "running" else report.status

    def _retryable(self, rule: Rule) -> set[str]:
        """Persons whose last write did not reach a final state: failed, or pending (a run died mid-batch)."""
        return self.store.ledger_keys_in_state(rule.name, ("failed", "pending"))

    def _desired(
        self, rule: Rule, upserts: list[dict[str, Any]], deletes: list[str], leaving: set[str], full: bool
    ) -> tuple[set[str], set[str]]:
        """Persons the target should hold (among ``touched``), and the persons this read touched.

        ``leaving`` are the persons of the records that left, as the crosswalk knows them. They count even
        when the snapshot has already forgotten the record: a run that crashed after writing the snapshot
        but before removing the member must not make the next run blind to the removal.
        """
        present = {u["person_key"] for u in upserts}
        if full:
            previous = self.store.snapshot_persons(rule.name)
            return present, present | previous
        gone = (set(self.store.snapshot_records(rule.name, deletes).values()) | leaving) - present
        # A person whose record left may still be in the source through another record (Lead + Contact).
        still = self.store.persons_with_other_records(rule.name, gone, set(deletes))
        return present | still, present | gone

    # -- diff ----------------------------------------------------------------------------------
    def _diff(
        self,
        rule: Rule,
        target: Target,
        report: RunReport,
        desired: set[str],
        touched: set[str],
        ledger: dict[str, LedgerRow],
        emails: dict[str, str | None],
    ) -> None:
        mode = self.config.mode_of(rule)
        max_attempts = self.config.defaults.max_attempts
        container = target.container
        rank = {s.label: s.rank for s in container.statuses}
        want = target.status
        where = f"{target.connector.name}:{container.name}"
        for key in sorted(touched):
            row = ledger.get(key)
            email = emails.get(key)
            if row is not None and row.state in ("dead", "rejected", "blocked") and key in desired:
                continue  # terminal until `campaign-bridge retry` or a change of rule
            if key in desired:
                # A pending row is an add whose outcome was never recorded (the run died mid-batch):
                # send it again; its ownership was claimed before the first send.
                if row is None or row.state in ("failed", "pending"):
                    if row is not None and row.attempts >= max_attempts:
                        continue
                    report.adds.append(
                        Item(
                            ChangeAction.ADD,
                            key,
                            email,
                            want,
                            _ref(row),
                            owned=bool(row and row.owned),
                            attempts=row.attempts if row else 0,
                        )
                    )
                elif want is not None and row.status != want:
                    if rank.get(want, 0) > rank.get(row.status or "", 0):
                        report.status_changes.append(
                            Item(ChangeAction.SET_STATUS, key, email, want, _ref(row), owned=row.owned)
                        )
                    else:
                        report.decisions.append(
                            Decision(
                                Kind.STATUS_COLLISION,
                                key,
                                email,
                                f"kept {row.status!r} over {want!r}: a member status never moves backwards",
                                where,
                            )
                        )
                continue
            if row is None:
                continue
            if mode is Mode.ADDITIVE and row.state in ("present", "pending"):
                continue
            if row.owned and row.state in ("present", "failed", "pending"):
                report.removals.append(Item(ChangeAction.REMOVE, key, email, None, _ref(row), owned=True))
            else:
                report.decisions.append(
                    Decision(
                        Kind.LEFT_IN_PLACE,
                        key,
                        email,
                        "no longer in the source, but this rule did not add it: left in place",
                        where,
                    )
                )
                report.bump("released")
                report.removals.append(Item(ChangeAction.REMOVE, key, email, None, _ref(row), owned=False))
        self._cross_rule_checks(rule, target, report, emails)

    def _cross_rule_checks(self, rule: Rule, target: Target, report: RunReport, emails: dict[str, str | None]) -> None:
        """Exclusive families, status collisions and shared members, against other rules' ledgers."""
        container = target.container
        conn = target.connector.name
        where = f"{conn}:{container.name}"
        rank = {s.label: s.rank for s in container.statuses}
        keys = {i.person_key for i in (*report.adds, *report.status_changes, *report.removals)}
        if not keys:
            return
        others = self.store.others_on_target(rule.name, conn, keys)
        same = {r.person_key: r for r in others if r.container_id == container.id}
        elsewhere: dict[str, list[LedgerRow]] = {}
        for r in others:
            if r.container_id != container.id:
                elsewhere.setdefault(r.person_key, []).append(r)
        adds: list[Item] = []
        for item in report.adds:
            other = same.get(item.person_key)
            if (
                other is not None
                and item.status is not None
                and rank.get(other.status or "", 0) > rank.get(item.status, 0)
            ):
                report.decisions.append(
                    Decision(
                        Kind.STATUS_COLLISION,
                        item.person_key,
                        item.email,
                        f"rule {other.rule!r} set {other.status!r}, which outranks {item.status!r}: kept {other.status!r}",
                        where,
                    )
                )
                continue
            if container.exclusive and elsewhere.get(item.person_key):
                holder = elsewhere[item.person_key][0]
                policy = rule.exclusive
                win = policy is ExclusivePolicy.LATEST_WINS or (
                    policy is ExclusivePolicy.PRIORITY and rule.priority < self._priority(holder.rule)
                )
                verdict = "moved here" if win else "kept where they are"
                report.decisions.append(
                    Decision(
                        Kind.EXCLUSIVE_TARGET,
                        item.person_key,
                        item.email,
                        f"already in {holder.container_id} through rule {holder.rule!r}; {policy.value}: {verdict}",
                        where,
                    )
                )
                if not win:
                    continue
                item.replace = True
            adds.append(item)
        report.adds = adds
        removals: list[Item] = []
        for item in report.removals:
            other = same.get(item.person_key)
            if item.owned and other is not None:
                report.decisions.append(
                    Decision(
                        Kind.KEPT_FOR_OTHER_RULE,
                        item.person_key,
                        item.email,
                        f"no longer in this rule's source, but rule {other.rule!r} also wants this member: kept",
                        where,
                    )
                )
                item.owned = False  # released: ownership passes to the other rule
                item.other_rule = other.rule
            removals.append(item)
        report.removals = removals

    def _priority(self, rule_name: str) -> int:
        try:
            return self.config.rule(rule_name).priority
        except CampaignBridgeError:
            return 1_000_000

    def _held(self, rule: Rule, report: RunReport, ledger: dict[str, LedgerRow]) -> bool:
        safety = self.config.safety_of(rule)
        removing = sum(1 for i in report.removals if i.owned)
        owned = sum(1 for r in ledger.values() if r.owned and r.state == "present") or self.store.ledger_counts(
            rule.name
        ).get("owned", 0)
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
    def _apply(
        self, rule: Rule, target: Target, report: RunReport, ledger: dict[str, LedgerRow], now: datetime
    ) -> bool:
        """Apply the plan in batches; True when every item reached a final state."""
        conn = target.connector
        releases = [i for i in report.removals if not i.owned]
        removals = [i for i in report.removals if i.owned]
        self._release(rule, releases)
        # People to add need a target record first.
        adds = report.adds
        need = {i.person_key: i.email for i in adds if i.target is None}
        if need:
            resolver = TargetResolver(self.store, conn, rule.match, now, persist=True)
            found, decisions, unresolved = resolver.resolve(need)
            report.decisions.extend(decisions)
            for item in adds:
                if item.target is None:
                    item.target = found.get(item.person_key)
            blocked = [i for i in adds if i.target is None]
            self._write_rows(
                rule, target, [(i, None, "rejected", unresolved.get(i.person_key, "unmatched")) for i in blocked], now
            )
            report.bump("unmatched", len(blocked))
            adds = [i for i in adds if i.target is not None]
        return self.write(rule, target, [*adds, *report.status_changes, *removals], report, now)

    @staticmethod
    def _writer(target: Target, count: int) -> tuple[Apply, int]:
        """How ``count`` changes go to ``target``: the apply function and the most changes per call."""
        conn = target.connector
        if isinstance(conn, SupportsBulkApply) and count > conn.bulk_threshold:
            return conn.apply_bulk, conn.bulk_batch_size
        return conn.apply_changes, conn.write_batch_size

    def _send(
        self, rule: Rule, target: Target, batch: list[Item], now: datetime, apply: Apply | None = None
    ) -> list[ChangeOutcome]:
        """Record the intent of the batch's adds, then send it; one outcome per item with a target.

        Each add is written to the ledger as ``pending`` and owned *before* the batch leaves, so a run
        killed between the vendor's answer and ``_record`` leaves a row saying "this rule may have added
        it": the next run sends the add again, and a member it then finds present is the rule's own (a
        mirror rule removes it when it leaves the source) rather than an orphan nobody removes.
        ``apply`` is the connector's ``apply_changes`` unless given (``apply_bulk`` for a bulk chunk).
        """
        sendable = [it for it in batch if it.target is not None]
        intents = [
            (dataclasses.replace(it, status=None, owned=True), None, "pending", None)
            for it in sendable
            if it.action is ChangeAction.ADD
        ]
        if intents:
            self._write_rows(rule, target, intents, now)
        changes = [Change(it.action, it.target, it.status, it.replace) for it in sendable if it.target is not None]
        try:
            return (apply or target.connector.apply_changes)(target.container, changes)
        except TransientError as exc:
            return [ChangeOutcome(c, OutcomeState.FAILED, "TRANSIENT", str(exc)) for c in changes]

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
                    handover.append({**dataclasses.asdict(row), "owned": True})
        self.store.write_ledger(handover, [(rule.name, it.person_key) for it in items])

    def _record(
        self,
        rule: Rule,
        target: Target,
        report: RunReport,
        batch: list[Item],
        outcomes: list[ChangeOutcome],
        now: datetime,
    ) -> list[Item]:
        """Persist each outcome in the ledger and its decision in the report; return follow-up items."""
        where = f"{target.connector.name}:{target.container.name}"
        rank = {s.label: s.rank for s in target.container.statuses}
        max_attempts = self.config.defaults.max_attempts
        rows: list[tuple[Item, ChangeOutcome | None, str, str | None]] = []
        deletes: list[tuple[str, str]] = []
        follow: list[Item] = []
        items = [it for it in batch if it.target is not None]
        for item, outcome in zip(items, outcomes, strict=True):
            state = outcome.state
            if item.action is ChangeAction.REMOVE:
                if state in (OutcomeState.APPLIED, OutcomeState.ALREADY_ABSENT):
                    deletes.append((rule.name, item.person_key))
                    report.bump("removed")
                    report.decisions.append(
                        Decision(Kind.REMOVED, item.person_key, item.email, "removed: no longer in the source", where)
                    )
                else:
                    rows.append((item, outcome, *self._failure(report, item, outcome, max_attempts, where)))
                continue
            if state is OutcomeState.APPLIED:
                owned = item.owned or item.action is ChangeAction.ADD
                rows.append(
                    (
                        Item(item.action, item.person_key, item.email, item.status, item.target, owned=owned),
                        outcome,
                        "present",
                        None,
                    )
                )
                kind = Kind.ADDED if item.action is ChangeAction.ADD else Kind.STATUS_CHANGED
                report.bump("added" if kind is Kind.ADDED else "status_changed")
                what = f" with status {item.status!r}" if item.status else ""
                report.decisions.append(Decision(kind, item.person_key, item.email, f"{kind.value}{what}", where))
            elif state is OutcomeState.ALREADY_PRESENT:
                current = outcome.current_status
                rows.append(
                    (
                        Item(item.action, item.person_key, item.email, current, item.target, owned=item.owned),
                        outcome,
                        "present",
                        None,
                    )
                )
                report.bump("already_member")
                report.decisions.append(
                    Decision(
                        Kind.ALREADY_MEMBER,
                        item.person_key,
                        item.email,
                        "already a member (not added by this rule, so never removed by it)",
                        where,
                    )
                )
                if item.status is not None and current is not None and current != item.status:
                    if rank.get(item.status, 0) > rank.get(current, 0):
                        follow.append(
                            Item(
                                ChangeAction.SET_STATUS,
                                item.person_key,
                                item.email,
                                item.status,
                                item.target,
                                owned=item.owned,
                            )
                        )
                    else:
                        report.decisions.append(
                            Decision(
                                Kind.STATUS_COLLISION,
                                item.person_key,
                                item.email,
                                f"kept {current!r} over {item.status!r}: a member status never moves backwards",
                                where,
                            )
                        )
            elif state is OutcomeState.OCCUPIED:
                if rule.exclusive is ExclusivePolicy.LATEST_WINS and not item.replace:
                    follow.append(
                        Item(ChangeAction.ADD, item.person_key, item.email, item.status, item.target, replace=True)
                    )
                    verdict = "moved here"
                else:
                    rows.append((item, outcome, "blocked", f"occupied by {outcome.occupant}"))
                    verdict = "kept where they are"
                report.decisions.append(
                    Decision(
                        Kind.EXCLUSIVE_TARGET,
                        item.person_key,
                        item.email,
                        f"already in {outcome.occupant}; {rule.exclusive.value}: {verdict}",
                        where,
                    )
                )
            else:
                rows.append((item, outcome, *self._failure(report, item, outcome, max_attempts, where)))
        self._write_rows(rule, target, rows, now, deletes)
        return follow

    def _failure(
        self, report: RunReport, item: Item, outcome: ChangeOutcome, max_attempts: int, where: str
    ) -> tuple[str, str]:
        error = f"{outcome.code}: {outcome.message}" if outcome.code else (outcome.message or "failed")
        if outcome.state is OutcomeState.REJECTED:
            report.bump("rejected")
            report.decisions.append(
                Decision(
                    Kind.REJECTED_RECORD,
                    item.person_key,
                    item.email,
                    f"{item.action.value} refused by the target: {error}",
                    where,
                )
            )
            return "rejected", error
        item.attempts += 1
        report.bump("failed")
        if item.attempts >= max_attempts:
            report.decisions.append(
                Decision(
                    Kind.DEAD_LETTER,
                    item.person_key,
                    item.email,
                    f"gave up after {item.attempts} attempts: {error}",
                    where,
                )
            )
            return "dead", error
        return "failed", error

    def _write_rows(
        self,
        rule: Rule,
        target: Target,
        rows: Iterable[tuple[Item, ChangeOutcome | None, str, str | None]],
        now: datetime,
        deletes: list[tuple[str, str]] | None = None,
    ) -> None:
        out = []
        for item, _outcome, state, error in rows:
            out.append(
                {
                    "rule": rule.name,
                    "person_key": item.person_key,
                    "connection": target.connector.name,
                    "container_id": target.container.id,
                    "target_record_id": item.target.id if item.target else None,
                    "target_kind": item.target.kind if item.target else None,
                    "status": item.status if state == "present" else None,
                    "owned": item.owned,
                    "state": state,
                    "attempts": item.attempts,
                    "last_error": error,
                    "written_at": now,
                }
            )
        self.store.write_ledger(out, deletes or [])


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ref(row: LedgerRow | None) -> RecordRef | None:
    if row is None or row.target_record_id is None or row.target_kind is None:
        return None
    return RecordRef(row.connection, row.target_kind, row.target_record_id)


def _advance(old: Watermark | None, records: list[MemberRecord], now: datetime) -> Watermark:
    """The new watermark: the latest source stamp seen (id tie-break), never past the run's start."""
    stamped = [r for r in records if r.modified_at is not None]
    if not stamped:
        return old or Watermark(now)
    last = max(stamped, key=lambda r: (r.modified_at, r.tie_id))
    assert last.modified_at is not None
    at = min(last.modified_at, now) if last.modified_at.tzinfo else last.modified_at
    if old is not None and (old.at, old.tie_id) > (at, last.tie_id):
        return old
    return Watermark(at, last.tie_id)


# keep Resolved importable from here for callers that type source rows
__all__ = ["Engine", "Resolved", "RunReport", "Target", "utcnow"]
