"""One reconcile of one rule: lease → full read of source and target → compare → (repair) → record.

A reconcile takes the rule's lease like a sync does, so the two never run at once for one rule. Without
``repair`` it writes only its own record: a ``runs`` row (mode ``reconcile``), one ``reconcile_findings``
row per finding, and a decision per drifted person (so ``explain`` can tell it). With ``repair`` it also
applies each finding's ``Fix``: the ledger and crosswalk bookkeeping, then the changes, written by the
run's own batch writer (``sync/writer.py``) so they are recorded, and survive a kill, exactly as
``sync``'s own. It never removes a member from a target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.connectors.base import Connector
from campaign_bridge.mapping.model import ChangeOutcome, OutcomeState
from campaign_bridge.reconciler.compare import Side, TargetComparison, desired_people, source_findings
from campaign_bridge.reconciler.report import Action, Finding, FindingKind, ReconcileReport
from campaign_bridge.sync.identity import SourceResolver
from campaign_bridge.sync.plan import Decision, Item, Kind, RunReport
from campaign_bridge.sync.scope import RunScope, utcnow
from campaign_bridge.sync.source import Sources
from campaign_bridge.sync.store.store import LedgerRow, RefRow, Store
from campaign_bridge.sync.target import Target, resolve_target
from campaign_bridge.sync.writer import BatchWriter, DecisionLog

Clock = Callable[[], datetime]

_STALE_KINDS = {"deleted": Kind.RECORD_DELETED, "converted": Kind.LEAD_CONVERTED, "merged": Kind.RECORD_MERGED}


class Reconciler:
    """Reconciles the rules of one client file. Parts are passed in, as for the ``Engine``."""

    def __init__(
        self,
        config: ClientConfig,
        store: Store,
        connectors: Mapping[str, Connector],
        *,
        clock: Clock = utcnow,
        holder: str | None = None,
    ) -> None:
        self.config, self.store, self.connectors, self.clock = config, store, connectors, clock
        # The run's lifecycle, source read and batch writer are the engine's own parts, shared.
        self.scope = RunScope(store, connectors, client=config.client, clock=clock, holder=holder)
        self.holder = self.scope.holder
        self.sources = Sources(config, store, connectors)

    def reconcile(self, rule_name: str, *, repair: bool = False) -> ReconcileReport:
        """Reconcile one rule. Raises ``LeaseHeldError`` when a sync (or another reconcile) of the rule
        is running, and ``FatalError`` (after recording the run as failed) when a person must act; a
        quota or transient failure ends the run with status ``stopped`` or ``failed`` instead."""
        rule = self.config.rule(rule_name)
        report = ReconcileReport(rule.name, repair)
        self.scope.run(report, lambda now: self._execute(rule, report, now))
        return report

    # -- the run -----------------------------------------------------------------------------------
    def _execute(self, rule: Rule, report: ReconcileReport, now: datetime) -> None:
        t0 = time.perf_counter()
        target = resolve_target(rule, self.connectors)
        scratch = RunReport(rule.name, "reconcile")
        records, _, _ = self.sources.read_all(rule, scratch, now, full=True)
        resolved, _ = SourceResolver(self.store, rule.source.connection, now, persist=False).resolve(records)
        members = list(target.connector.read_members(target.container))
        report.source_read, report.target_read = len(records), len(members)
        report.target = f"{target.connector.name}:{target.container.name}"
        report.timings["read"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        source = self.connectors[rule.source.connection]
        source_side = Side(source, rule.source.container_name)
        target_side = Side(target.connector, target.container.name, target.container, target.status)
        desired = desired_people(rule, resolved)
        report.findings.extend(source_findings(self.store, resolved, source_side, now))
        comparison = TargetComparison(
            rule,
            self.config.mode_of(rule),
            target_side,
            self.store,
            desired,
            self.store.ledger(rule.name),
            members,
            now,
        )
        findings, counts = comparison.run()
        report.findings.extend(findings)
        for key, n in counts.items():
            report.bump(key, n)
        for finding in report.findings:
            report.bump(finding.kind.value)
        report.timings["compare"] = time.perf_counter() - t0

        decisions: list[Decision] = []
        if report.repair and report.findings:
            t0 = time.perf_counter()
            decisions = self._repair(rule, target, report, now)
            report.timings["repair"] = time.perf_counter() - t0
        drift = report.drift
        if not drift:
            report.status = "ok"
        elif not report.repair:
            report.status = "drift"
        else:
            report.status = "partial" if any(f.action is Action.FAILED for f in drift) else "repaired"
        self._record(rule, report, target_side.where, decisions, now)

    # -- repair ------------------------------------------------------------------------------------
    def _repair(self, rule: Rule, target: Target, report: ReconcileReport, now: datetime) -> list[Decision]:
        """Apply each finding's fix; returns the engine's decisions for the writes (added, status changed…)."""
        rows: dict[str, LedgerRow | None] = {}  # person key → final ledger row, None to delete
        refs: list[RefRow] = []
        writes: list[tuple[Finding, Item]] = []
        for f in report.findings:
            fix = f.fix
            if fix is None:
                continue
            refs.extend(fix.refs)
            if fix.ledger is not None:
                rows[fix.ledger.person_key] = fix.ledger
            if fix.forget is not None:
                rows[fix.forget[1]] = None
            if fix.write is not None:
                writes.append((f, fix.write))
            else:
                f.action = fix.action
        if refs:
            self.store.upsert_refs(list({(r.connection, r.record_id): r for r in refs}.values()))
        if rows:
            self.store.write_ledger(
                [r for r in rows.values() if r is not None],
                [(rule.name, key) for key, r in rows.items() if r is None],
            )
        report.bump("repaired_state", sum(1 for f in report.findings if f.action not in (None, Action.NONE)))
        # The scratch report has no run id: the engine leaves its decisions to ``_record``, which logs
        # them after the drift they repair.
        scratch = RunReport(rule.name, "reconcile")
        if writes:
            findings = {id(item): finding for finding, item in writes}
            writer = BatchWriter(
                self.store,
                rule,
                target,
                scratch,
                now,
                max_attempts=self.config.defaults.max_attempts,
                log=DecisionLog(self.store, scratch, now),
                renew=lambda: self.scope.renew(rule.name),
                clock=self.clock,
            )
            writer.write(
                [item for _, item in writes], settle=lambda item, outcome: _settle(findings[id(item)], outcome)
            )
        for key, n in scratch.counts.items():
            report.bump(key, n)
        return scratch.decisions

    # -- record ------------------------------------------------------------------------------------
    def _record(
        self, rule: Rule, report: ReconcileReport, where: str, decisions: list[Decision], now: datetime
    ) -> None:
        assert report.run_id is not None
        known = self.store.reported_records(rule.name, FindingKind.UNOWNED)
        found: list[Decision] = []
        for f in report.findings:
            if f.kind is FindingKind.UNOWNED and f.record in known:
                continue  # logged once, when first found: a shared list's other members are not news every night
            found.append(Decision(_decision_kind(f), f.person_key, f.email, _decision_detail(f, report.repair), where))
        # The drift first, then what the repair's writes did (added, status changed…), as they happened.
        self.store.log([d.row(report.run_id, rule.name, now) for d in (*found, *decisions)])
        self.store.save_findings(report.run_id, rule.name, [f.row() for f in report.findings], now)


def _settle(finding: Finding, outcome: ChangeOutcome) -> None:
    fix = finding.fix
    assert fix is not None
    if outcome.state in (OutcomeState.APPLIED, OutcomeState.ALREADY_PRESENT):
        finding.action = fix.action
    else:
        finding.action = Action.FAILED
        why = f"{outcome.code}: {outcome.message}" if outcome.code else (outcome.message or outcome.state.value)
        finding.outcome = f"{outcome.state.value}: {why}"


def _decision_kind(f: Finding) -> Kind:
    return _STALE_KINDS.get(f.stale or "", Kind.DRIFT)


def _decision_detail(f: Finding, repair: bool) -> str:
    text = f"reconcile: {f.kind.value}: {f.detail}"
    if f.action is Action.FAILED:
        return f"{text}; repair failed ({f.outcome})"
    if f.action is not None and f.action is not Action.NONE:
        return f"{text}; repaired: {f.action.value}"
    if f.kind is FindingKind.UNOWNED or repair:
        return text
    return f"{text}; not repaired (run reconcile --repair)"
