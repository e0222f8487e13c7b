"""What the console holds while it runs: the client files and their state stores, the console's own store
(users, sessions, audit log), and the runs it started (with their live progress and plan previews).

The console's store is the state store of the first client file given: users, sessions and the audit log
live there. Decisions on held plans and earlier versions of a client file live in that client's own store
(the engine reads the decisions from there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from campaign_bridge.config.loader import load_config
from campaign_bridge.config.models import ClientConfig, Rule
from campaign_bridge.errors import CampaignBridgeError, ConfigError, LeaseHeldError, Problem
from campaign_bridge.sync.plan import Item, RunReport
from campaign_bridge.sync.store.store import Store

log = logging.getLogger("campaign_bridge.console")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduling(Protocol):
    """What ``serve`` tells the console: each job's next fire time, and a way to re-read the files."""

    def next_fire(self, client: str, rule: str) -> datetime | None: ...

    def reload(self) -> bool: ...


@dataclass
class Loaded:
    """One client file the console shows."""

    path: str
    config: ClientConfig
    store: Store


@dataclass
class Activity:
    """A run the console started (sync, plan preview, reconcile, repair) and how far it got."""

    kind: str
    client: str
    rule: str
    by: str
    started: datetime
    stage: str = "starting"
    done: int = 0
    total: int = 0
    finished: datetime | None = None
    status: str | None = None
    message: str = ""
    run_id: int | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # a preview's changes, with their reasons
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.finished is None

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total


def reason(item: Item, kind: str, rule: Rule) -> str:
    """Why a planned change is in the plan, in words."""
    source = f"{rule.source.connection}:{rule.source.container_name}"
    if kind == "add":
        return f"in the source ({source}) and not yet in the target"
    if kind == "status":
        return f"their status in the target becomes {item.status!r}"
    if item.other_rule:
        return f"left the source; kept for rule {item.other_rule}"
    if item.owned:
        return "left the source, and this rule added them"
    return "left the source; this rule did not add them, so they stay (only forgotten)"


def preview_items(report: RunReport, rule: Rule) -> list[dict[str, Any]]:
    out = []
    for kind, items in (("add", report.adds), ("status", report.status_changes), ("remove", report.removals)):
        for i in items:
            out.append({"change": kind, "email": i.email, "status": i.status, "why": reason(i, kind, rule)})
    return out


class Console:
    """The client files of ``paths`` and their stores; ``scheduling`` when inside ``serve``."""

    def __init__(self, paths: Sequence[str], scheduling: Scheduling | None = None) -> None:
        self.paths = list(paths)
        self.scheduling = scheduling
        self.clients: dict[str, Loaded] = {}
        self.problems: list[Problem] = []
        self.activities: dict[tuple[str, str], Activity] = {}
        self._lock = threading.Lock()
        self.load()
        if not self.clients:
            raise ConfigError(self.problems or [Problem("<console>", None, "no client file given")])
        self.store = next(iter(self.clients.values())).store

    # -- client files ------------------------------------------------------------------------------
    def load(self) -> None:
        """(Re-)read every client file; an invalid one is listed in ``problems`` and shown as such."""
        problems: list[Problem] = []
        clients: dict[str, Loaded] = {}
        for path in self.paths:
            try:
                config = load_config(path)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            old = self.clients.get(config.client)
            if old is not None and old.config.state_url == config.state_url:
                store = old.store
            else:
                store = Store(config.state_url)
            clients[config.client] = Loaded(path, config, store)
        with self._lock:
            self.clients, self.problems = clients, problems

    def client(self, name: str) -> Loaded:
        loaded = self.clients.get(name)
        if loaded is None:
            raise LookupError(f"no client named {name!r} here")
        return loaded

    def rule(self, client: str, rule: str) -> tuple[Loaded, Rule]:
        loaded = self.client(client)
        for r in loaded.config.rules:
            if r.name == rule:
                return loaded, r
        raise LookupError(f"client {client!r} has no rule named {rule!r}")

    def close(self) -> None:
        for loaded in self.clients.values():
            loaded.store.close()

    # -- runs started here -------------------------------------------------------------------------
    def activity(self, client: str, rule: str) -> Activity | None:
        return self.activities.get((client, rule))

    def start(self, kind: str, client: str, rule: str, by: str) -> Activity:
        """Start ``kind`` (``sync``, ``plan``, ``reconcile``, ``repair``) of a rule in a thread of its own.
        Raises ``RuntimeError`` when the console already runs something of that rule."""
        loaded, _ = self.rule(client, rule)
        with self._lock:
            current = self.activities.get((client, rule))
            if current is not None and current.running:
                raise RuntimeError(f"a {current.kind} of {rule} started by {current.by} is still running")
            activity = Activity(kind, client, rule, by, utcnow())
            self.activities[(client, rule)] = activity
        work = self._work(kind, loaded.config, rule, activity)
        threading.Thread(target=self._run, args=(activity, work), name=f"console-{kind}-{rule}", daemon=True).start()
        return activity

    def _work(self, kind: str, config: ClientConfig, rule: str, activity: Activity) -> Callable[[], None]:
        from campaign_bridge.sync.client import open_client

        def sync_or_plan() -> None:
            from campaign_bridge.sync.engine import Engine

            with open_client(config) as client:
                engine = Engine(
                    config,
                    client.store,
                    client.connectors,
                    progress=activity.progress,
                    on_run_started=lambda _rule, run_id: setattr(activity, "run_id", run_id),
                )
                report = engine.plan(rule) if kind == "plan" else engine.sync(rule)
            activity.status, activity.message, activity.run_id = report.status, report.message, report.run_id
            if kind == "plan":
                activity.items = preview_items(report, config.rule(rule))
                activity.conflicts = report.as_json()["conflicts"]

        def reconcile() -> None:
            from campaign_bridge.reconciler import run_reconcile

            activity.stage = "reading source and target in full"
            report = run_reconcile(config, rule, repair=kind == "repair")
            activity.status, activity.message = str(report.status), report.message

        return reconcile if kind in ("reconcile", "repair") else sync_or_plan

    @staticmethod
    def _run(activity: Activity, work: Callable[[], None]) -> None:
        try:
            work()
        except LeaseHeldError as exc:
            activity.status, activity.message = "skipped", str(exc)
        except CampaignBridgeError as exc:
            activity.status, activity.message = "failed", str(exc)
        except Exception as exc:  # a bug: shown on the page and logged, the console keeps serving
            log.exception("%s of %s failed unexpectedly", activity.kind, activity.rule)
            activity.status, activity.message = "failed", f"unexpected error: {exc.__class__.__name__}"
        finally:
            activity.stage = "finished"
            activity.finished = utcnow()
