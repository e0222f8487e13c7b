"""``Service``: the rules of one or more client files, run on their schedules until stopped.

Parts and who owns what:

* one ``ClockedScheduler`` (APScheduler 3) with one SQLAlchemy job store per client file, in that
  client's state database (alias = client name, table ``scheduler_jobs_<client>``), and one
  ``RuleExecutor`` thread pool;
* per client, a ``Store`` kept open for fire-time claims (``claims.py``) and the last successful run;
* per run, what ``campaign-bridge sync`` does: ``open_client`` and ``Engine.sync`` (the engine's lease
  keeps two workers off one rule), or the reconciler's ``run_reconcile`` for the nightly job;
* per client with an ``alerts:`` section, a ``Notifier``, handed each finished run on the
  ``AlertDispatcher``'s thread (no run waits for a delivery).

``reload()`` re-reads every file; if any is invalid nothing changes. ``stop()`` lets the runs in flight
finish their current batch (the engine's ``should_stop``) and starts no new one.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from campaign_bridge.alerts import AlertDispatcher, Notifier, Observation
from campaign_bridge.config.loader import load_config
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import CampaignBridgeError, ConfigError, LeaseHeldError, Problem
from campaign_bridge.service.claims import claim_fire_time, claim_key
from campaign_bridge.service.jobs import NIGHTLY_RECONCILE, RECONCILE, SYNC, JobSpec, job_id, job_specs, scheduled_run
from campaign_bridge.service.logs import log_context, set_run_id
from campaign_bridge.service.metrics import SUCCESS, Metrics
from campaign_bridge.service.scheduler import ClockedScheduler, RuleExecutor
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.store import Store

log = logging.getLogger("campaign_bridge.service")

Clock = Callable[[], datetime]

#: Rules of one process that may run at the same time (each rule runs at most once at a time).
DEFAULT_WORKERS = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


def jobs_table(client: str) -> str:
    """The job store's table for one client (clients may share a state database)."""
    return "scheduler_jobs_" + re.sub(r"[^a-z0-9_]", "_", client.lower())


@dataclass
class _Client:
    path: str
    config: ClientConfig
    store: Store
    jobstore: Any


@dataclass
class LastRun:
    kind: str
    status: str
    fire_time: datetime
    finished_at: datetime
    run_id: int | None = None
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "fire_time": self.fire_time.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "run_id": self.run_id,
            "message": self.message,
        }


def load_configs(paths: Sequence[str]) -> dict[str, tuple[str, ClientConfig]]:
    """Every client file, validated, by client name; ``ConfigError`` lists every problem of every file."""
    problems: list[Problem] = []
    out: dict[str, tuple[str, ClientConfig]] = {}
    for path in paths:
        try:
            config = load_config(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if config.client in out:
            problems.append(
                Problem(path, None, f"client {config.client!r} is also the client of {out[config.client][0]}")
            )
            continue
        out[config.client] = (path, config)
    if problems:
        raise ConfigError(problems)
    return out


def _open_jobstore(config: ClientConfig) -> Any:
    options: dict[str, Any] = {}
    if config.state_url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
    jobstore = SQLAlchemyJobStore(url=config.state_url, tablename=jobs_table(config.client), engine_options=options)
    # Two processes starting together would both try to create the table; the loser sees it exists.
    try:
        jobstore.jobs_t.create(jobstore.engine, checkfirst=True)
    except SQLAlchemyError:
        if not inspect(jobstore.engine).has_table(jobstore.jobs_t.name):
            raise
    return jobstore


@dataclass
class Service:
    """Run the rules of ``paths`` on their schedules. ``clock`` drives scheduling (tests pass a fake)."""

    paths: Sequence[str]
    clock: Clock = utcnow
    timezone: tzinfo = UTC
    reconcile_cron: str | None = NIGHTLY_RECONCILE
    workers: int = DEFAULT_WORKERS
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.started_at: datetime | None = None
        self.last: dict[tuple[str, str], LastRun] = {}
        self._clients: dict[str, _Client] = {}
        self._notifiers: dict[str, Notifier] = {}
        self.alerts = AlertDispatcher()
        self._lock = threading.Lock()
        self.scheduler = ClockedScheduler(self.clock, timezone=self.timezone)
        self.executor = RuleExecutor(self, self.clock, self.workers)
        self.scheduler.add_executor(self.executor, "default")
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
        """Load every file (``ConfigError`` if any is invalid), set up its jobs, and start scheduling.

        ``paused`` starts without the scheduler's thread acting on time: call ``run_due`` to drive it.
        """
        configs = load_configs(self.paths)
        self.scheduler.start(paused=True)
        self._apply(configs)
        self.started_at = self.clock()
        log.info("scheduling %d clients: %s", len(configs), ", ".join(sorted(configs)))
        if not paused:
            self.scheduler.resume()

    def reload(self) -> bool:
        """Re-read every file; apply them all, or (any invalid) log why and keep the running ones."""
        try:
            configs = load_configs(self.paths)
            self._apply(configs)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload refused: %s", problem)
            log.error("reload refused; still running the configuration loaded before")
            return False
        except (CampaignBridgeError, SQLAlchemyError) as exc:
            log.error("reload refused: %s; still running the configuration loaded before", exc)
            return False
        log.info("reloaded %d clients: %s", len(configs), ", ".join(sorted(configs)))
        return True

    def request_stop(self) -> None:
        """Start no new run, and ask runs in flight to stop after their current batch. Returns at once."""
        if not self.stopping.is_set():
            self.stopping.set()
            log.info("stopping: runs in flight finish their current batch")

    def stop(self, timeout: float | None = None) -> None:
        """``request_stop``, wait for the runs in flight, and close everything."""
        self.request_stop()
        if self.scheduler.running:
            self.scheduler.pause()
            self.executor.drain(timeout)
            self.scheduler.shutdown(wait=True)
        self.alerts.stop(timeout)
        for client in self._clients.values():
            client.store.close()
        log.info("stopped")

    def run_due(self, now: datetime | None = None) -> None:
        """Submit every job due at ``now`` (default: the clock) and wait until those runs have finished."""
        self.scheduler.process_due(now or self.clock())
        self.executor.drain()
        self.alerts.drain()

    # -- configuration -------------------------------------------------------------------------
    def _apply(self, configs: dict[str, tuple[str, ClientConfig]]) -> None:
        """Open what new or moved clients need (failing before anything changes), then switch over."""
        opened: dict[str, _Client] = {}
        try:
            for name, (path, config) in configs.items():
                old = self._clients.get(name)
                if old is None or old.config.state_url != config.state_url:
                    store = Store(config.state_url)
                    opened[name] = _Client(path, config, store, None)
                    opened[name].jobstore = _open_jobstore(config)
        except Exception:
            for client in opened.values():
                client.store.close()
            raise
        with self._lock:
            for name, old in list(self._clients.items()):
                if name not in configs or name in opened:
                    self.scheduler.remove_jobstore(name)
                    old.store.close()
            clients: dict[str, _Client] = {}
            for name, (path, config) in configs.items():
                if name in opened:
                    clients[name] = opened[name]
                    self.scheduler.add_jobstore(opened[name].jobstore, alias=name)
                else:
                    kept = self._clients[name]
                    clients[name] = _Client(path, config, kept.store, kept.jobstore)
            self._clients = clients
        for name, client in clients.items():
            self._sync_jobs(client)
            if name in opened:
                self._seed_last_success(client)

    def _sync_jobs(self, client: _Client) -> None:
        """Make the client's stored jobs match its file; an unchanged job keeps its next fire time."""
        alias = client.config.client
        specs = {s.id: s for s in job_specs(client.config, self.timezone, self.clock(), self.reconcile_cron)}
        for job in self.scheduler.get_jobs(jobstore=alias):
            if job.id not in specs:
                log.info("job %s removed (no longer in %s)", job.id, client.path)
                self.scheduler.remove_job(job.id, jobstore=alias)
        for spec in specs.values():
            existing = self.scheduler.get_job(spec.id, jobstore=alias)
            if existing is not None and existing.name == spec.name:
                continue
            self._add(spec, alias)

    def _add(self, spec: JobSpec, alias: str) -> None:
        self.scheduler.add_job(
            scheduled_run,
            trigger=spec.trigger,
            kwargs=spec.kwargs,
            id=spec.id,
            name=spec.name,
            jobstore=alias,
            executor="default",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.grace,
            next_run_time=spec.trigger.get_next_fire_time(None, self.clock()),
        )
        log.info("job %s scheduled: %s", spec.id, spec.schedule)

    def _seed_last_success(self, client: _Client) -> None:
        for rule in client.config.rules:
            for row in client.store.runs(limit=50, rule=rule.name):
                if row["mode"] == "sync" and row["status"] in SUCCESS and row["finished_at"] is not None:
                    finished = row["finished_at"]
                    finished = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
                    self.metrics.seed_last_success(client.config.client, rule.name, finished)
                    break

    # -- runs ----------------------------------------------------------------------------------
    def run(self, client_name: str, rule_name: str, kind: str, fire_time: datetime) -> None:
        """Run one fire time of one job, once across every process sharing the client's state store."""
        with log_context(client_name, rule_name):
            client = self._clients.get(client_name)
            if client is None or all(r.name != rule_name for r in client.config.rules):
                log.warning("%s of %s skipped: no longer configured", kind, rule_name)
                return
            if self.stopping.is_set():
                self.metrics.record_skip(client_name, rule_name, "stopping")
                return
            stamp = fire_time.isoformat()
            if not claim_fire_time(client.store, claim_key(client_name, rule_name, kind), fire_time):
                log.info("%s for %s already run by another worker", kind, stamp, extra={"fire_time": stamp})
                self.metrics.record_skip(client_name, rule_name, "claimed")
                return
            log.info("%s started for %s", kind, stamp, extra={"fire_time": stamp, "kind": kind})
            try:
                if kind == SYNC:
                    self._sync(client.config, rule_name, fire_time)
                elif kind == RECONCILE:
                    self._reconcile(client.config, rule_name, fire_time)
            except Exception:
                log.exception("%s for %s failed unexpectedly", kind, stamp, extra={"fire_time": stamp})
                self.metrics.record_other(client_name, rule_name, kind, "error")
                self._remember(client_name, rule_name, LastRun(kind, "error", fire_time, self.clock()))
                self._alert(client.config, Observation(rule_name, kind, "failed", message="an unexpected error"))

    def _sync(self, config: ClientConfig, rule: str, fire_time: datetime) -> None:
        from campaign_bridge.sync.client import open_client
        from campaign_bridge.sync.engine import Engine

        stamp = fire_time.isoformat()
        with open_client(config) as client:
            engine = Engine(
                config,
                client.store,
                client.connectors,
                should_stop=self.stopping.is_set,
                # Every log line of the run names its runs row from the moment the engine creates it.
                on_run_started=lambda _rule, run_id: set_run_id(run_id),
            )
            try:
                report = engine.sync(rule)
            except LeaseHeldError as exc:
                log.info("sync for %s not run: %s", stamp, exc, extra={"fire_time": stamp})
                self.metrics.record_skip(config.client, rule, "lease_held")
                return
            except CampaignBridgeError as exc:
                report = RunReport(rule, "sync", status="failed", message=str(exc))
            usage = {name: c.usage() for name, c in client.connectors.items()} if config.alerts else {}
        self._alert(config, Observation.of_sync(report, usage))
        finished = self.clock()
        self.metrics.record_sync(config.client, report, finished)
        self._remember(
            config.client, rule, LastRun(SYNC, report.status, fire_time, finished, report.run_id, report.message)
        )
        counts = {k: report.counts.get(k, 0) for k in ("added", "removed", "status_changed")}
        level = logging.INFO if report.status == "ok" else logging.WARNING
        log.log(
            level,
            "sync for %s %s: %s, %d conflicts, API calls %s%s",
            stamp,
            report.status,
            ", ".join(f"{k}={v}" for k, v in counts.items()),
            len(report.conflicts),
            report.api_calls or {},
            f"; {report.message}" if report.message else "",
            extra={"fire_time": stamp, "kind": SYNC, "status": report.status, "counts": counts},
        )

    def _reconcile(self, config: ClientConfig, rule: str, fire_time: datetime) -> None:
        stamp = fire_time.isoformat()
        try:
            from campaign_bridge.reconciler import run_reconcile
        except ImportError:
            log.warning("reconcile for %s skipped: this version has no reconciler", stamp)
            self.metrics.record_skip(config.client, rule, "no_reconciler")
            return
        try:
            report = run_reconcile(config, rule, repair=False)
            status = str(report.status)
        except LeaseHeldError as exc:
            log.info("reconcile for %s not run: %s", stamp, exc, extra={"fire_time": stamp})
            self.metrics.record_skip(config.client, rule, "lease_held")
            return
        except CampaignBridgeError as exc:
            status, report = "failed", None
            log.warning("reconcile for %s failed: %s", stamp, exc, extra={"fire_time": stamp})
        self.metrics.record_other(config.client, rule, RECONCILE, status)
        self._alert(config, Observation.of_reconcile(rule, status, report))
        self._remember(config.client, rule, LastRun(RECONCILE, status, fire_time, self.clock()))
        if report is not None:
            log.info(
                "reconcile for %s %s",
                stamp,
                status,
                extra={"fire_time": stamp, "kind": RECONCILE, "report": report.as_json()},
            )

    def _alert(self, config: ClientConfig, seen: Observation) -> None:
        """Hand a finished run to the client's alerts, if it has any; returns at once, and never raises:
        the alerts must not break a run or the scheduler."""
        if config.alerts is None:
            return
        try:
            with self._lock:
                notifier = self._notifiers.get(config.client)
                if notifier is None or notifier.config is not config:
                    client = self._clients.get(config.client)
                    if client is None:
                        return
                    notifier = self._notifiers[config.client] = Notifier(config, client.store, clock=self.clock)
            self.alerts.submit(notifier, seen)
        except Exception as exc:
            log.error("alerts of the %s of %s not judged: %s", seen.kind, seen.rule, type(exc).__name__)

    def _remember(self, client: str, rule: str, last: LastRun) -> None:
        with self._lock:
            self.last[(client, job_id(last.kind, rule))] = last

    def _on_event(self, event: Any) -> None:
        _, _, rule = str(event.job_id).partition(":")
        reason = "missed" if event.code == EVENT_JOB_MISSED else "still_running"
        self.metrics.record_skip(str(event.jobstore), rule, reason)

    # -- health ----------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details): healthy while the scheduler runs and is not stopping."""
        healthy = bool(self.scheduler.running) and not self.stopping.is_set()
        clients: dict[str, Any] = {}
        for name, client in list(self._clients.items()):
            jobs: dict[str, Any] = {}
            try:
                stored = self.scheduler.get_jobs(jobstore=name)
            except SQLAlchemyError as exc:
                healthy = False
                clients[name] = {"config": client.path, "error": f"state store unreachable: {exc.__class__.__name__}"}
                continue
            for job in stored:
                last = self.last.get((name, job.id))
                jobs[job.id] = {
                    "next_run": job.next_run_time.isoformat() if job.next_run_time else None,
                    "last": last.as_json() if last else None,
                }
            clients[name] = {"config": client.path, "jobs": jobs}
        status = "ok" if healthy else ("stopping" if self.stopping.is_set() else "down")
        return healthy, {"status": status, "clients": clients}
