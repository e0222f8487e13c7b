"""The background scheduler: ``campaign-bridge serve`` runs every rule of its client files on schedule.

scheduler.py  APScheduler 3 with an injectable clock, and an executor that hands jobs their fire time
jobs.py       what is scheduled: a sync per rule on its ``every``/``cron``, a nightly reconcile per rule
claims.py     each fire time runs once across processes sharing a state store
service.py    ``Service``: job stores per client, runs, reload, graceful stop, health
metrics.py    Prometheus metrics;  http.py  /healthz and /metrics;  logs.py  structured logs
command.py    the ``serve`` command and its signals

See docs/operations.md for running it unattended.
"""

from campaign_bridge.service.service import Service

__all__ = ["Service"]
