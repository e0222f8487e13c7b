"""The reconciler: a full read of each rule's source and target, compared with what the rule wants and
with its ledger; drift reported (table, JSON, state store, decision log) and, with ``repair``, fixed.

``run_reconcile`` is the entry point for callers (CLI, scheduler); ``Reconciler`` takes its parts passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from campaign_bridge.config.models import ClientConfig
from campaign_bridge.reconciler.report import Action, Finding, FindingKind, ReconcileReport
from campaign_bridge.reconciler.run import Reconciler
from campaign_bridge.sync.engine import utcnow

__all__ = ["Action", "Finding", "FindingKind", "ReconcileReport", "Reconciler", "run_reconcile"]


def run_reconcile(
    config: ClientConfig, rule: str, *, repair: bool = False, clock: Callable[[], datetime] | None = None
) -> ReconcileReport:
    """Reconcile one rule of ``config``, opening (and closing) the client's state store and connectors.

    Raises ``LeaseHeldError`` while a sync or another reconcile of the rule runs, ``ConfigError`` for an
    unknown rule, and ``FatalError`` when a person must act (a container is missing, credentials refused).
    """
    from campaign_bridge.sync.client import open_client

    with open_client(config) as client:
        reconciler = Reconciler(config, client.store, client.connectors, clock=clock or utcnow)
        return reconciler.reconcile(rule, repair=repair)
