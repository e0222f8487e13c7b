"""Helpers for reconciler tests on the memory pair: a client file whose state is the World's store."""

from __future__ import annotations

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.reconciler import Reconciler, ReconcileReport
from campaign_bridge.reconciler.report import Action, FindingKind
from tests.sync.world import World


def config(world: World, rules: str) -> ClientConfig:
    """The World's client file, with ``state:`` naming the World's store (so the CLI and run_reconcile share it)."""
    return world.config(rules, defaults=f"state: {world.store.url}")


def reconcile(world: World, cfg: ClientConfig, rule: str, *, repair: bool = False) -> ReconcileReport:
    reconciler = Reconciler(cfg, world.store, world.engine(cfg).connectors, clock=world.clock)
    report = reconciler.reconcile(rule, repair=repair)
    world.clock.tick(60)
    return report


def found(report: ReconcileReport) -> set[tuple[str, str | None]]:
    """{(kind, email)} of a report's findings."""
    return {(f.kind.value, f.email) for f in report.findings}


def actions(report: ReconcileReport) -> dict[tuple[FindingKind, str | None], Action | None]:
    return {(f.kind, f.email): f.action for f in report.findings}
