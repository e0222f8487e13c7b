"""The Prometheus metrics ``serve`` exposes on ``/metrics``, in a registry of their own.

Labels are the client and rule names (never a connection's settings). Counters count what this process
did since it started; ``campaign_bridge_last_success_timestamp_seconds`` starts from the state store's
newest successful run, so a restart does not make a healthy rule look stale.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from campaign_bridge.sync.plan import RunReport

#: Run statuses that count as a success for ``last_success``.
SUCCESS = frozenset({"ok"})
#: Report counts exported as changes, by the name of the ``change`` label.
CHANGES = ("added", "removed", "status_changed")


class Metrics:
    """One registry: runs, changes, conflicts, API calls, skipped fire times, last success per rule."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("client", "rule")
        self.runs = Counter(
            "campaign_bridge_runs",
            "Scheduled runs finished, by kind (sync, reconcile) and status.",
            (*labels, "kind", "status"),
            registry=self.registry,
        )
        self.changes = Counter(
            "campaign_bridge_changes",
            "Membership changes written to targets (added, removed, status_changed).",
            (*labels, "change"),
            registry=self.registry,
        )
        self.conflicts = Counter(
            "campaign_bridge_conflicts", "Conflicts logged by runs.", labels, registry=self.registry
        )
        self.api_calls = Counter(
            "campaign_bridge_api_calls",
            "API calls spent by runs, by connection name.",
            (*labels, "connection"),
            registry=self.registry,
        )
        self.skipped = Counter(
            "campaign_bridge_skipped_runs",
            "Fire times not run here: claimed by another worker, lease held, missed, or stopping.",
            (*labels, "reason"),
            registry=self.registry,
        )
        self.last_success = Gauge(
            "campaign_bridge_last_success_timestamp_seconds",
            "When the rule's last successful sync finished (Unix time).",
            labels,
            registry=self.registry,
        )

    def record_sync(self, client: str, report: RunReport, finished_at: datetime) -> None:
        self.runs.labels(client, report.rule, "sync", report.status).inc()
        for change in CHANGES:
            n = report.counts.get(change, 0)
            if n:
                self.changes.labels(client, report.rule, change).inc(n)
        if report.conflicts:
            self.conflicts.labels(client, report.rule).inc(len(report.conflicts))
        for connection, calls in report.api_calls.items():
            self.api_calls.labels(client, report.rule, connection).inc(calls)
        if report.status in SUCCESS:
            self.last_success.labels(client, report.rule).set(finished_at.timestamp())

    def record_other(self, client: str, rule: str, kind: str, status: str) -> None:
        self.runs.labels(client, rule, kind, status).inc()

    def record_skip(self, client: str, rule: str, reason: str) -> None:
        self.skipped.labels(client, rule, reason).inc()

    def seed_last_success(self, client: str, rule: str, finished_at: datetime) -> None:
        self.last_success.labels(client, rule).set(finished_at.timestamp())
