"""What needs a person: the conditions judged after each run, from the run and the state store.

=============  =========================================================  ==========================
kind           firing while                                               resolved when
=============  =========================================================  ==========================
failed_runs    the rule's last ``failed_runs`` sync runs all failed       a sync run gets through
held_plan      the rule's last sync held its removals (safety limit)      a sync run applies its plan
dead_letters   the rule has dead letters; sent again only when they grow  none are left
api_allowance  a connection used ``api_allowance`` of its daily calls     a run sees it below again
drift          the last reconcile found drift                             a reconcile finds none
takeover       (an event) a run's worker died; the next run took over     never: each one is told once
=============  =========================================================  ==========================

A condition not judged by a run (a failed run says nothing of the safety limit) is left as it stands.
The *fingerprint* of a firing condition is what makes it a new alert when it changes: the last error
for ``failed_runs`` (digits aside: "after 3 attempts" and "after 4 attempts" are one problem), the
number of dead letters, the drift found, the dead run's id.

A takeover is read from the ``runs`` table: a run whose worker died is closed with ``DEAD_WORKER`` by the
next run on that host, which takes over the rule's lease at the same moment (``sync/scope.py``). No
change to the run scope was needed to see it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from campaign_bridge.config.alerts import AlertSettings
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.sync.store.runs import DEAD_WORKER
from campaign_bridge.sync.store.states import LedgerState, RunStatus
from campaign_bridge.sync.store.store import Store

if TYPE_CHECKING:
    from campaign_bridge.reconciler.report import ReconcileReport
    from campaign_bridge.sync.plan import RunReport


class AlertKind(StrEnum):
    FAILED_RUNS = "failed_runs"
    HELD_PLAN = "held_plan"
    DEAD_LETTERS = "dead_letters"
    API_ALLOWANCE = "api_allowance"
    DRIFT = "drift"
    TAKEOVER = "takeover"


#: Sync statuses of a run that got through its plan (so it says the rule is not failing, and whether its
#: plan was held).
_THROUGH = frozenset({RunStatus.OK, RunStatus.PARTIAL, RunStatus.HELD})
#: Statuses that say whether the rule works: the failing streak is counted over these only.
_SAID = _THROUGH | {RunStatus.FAILED}
#: How many runs that say nothing (stopped by a quota, still running) the streak looks past.
STREAK_SLACK = 20
#: How far back a takeover is looked for (the rule's newest runs).
TAKEOVER_LOOKBACK = 20


@dataclass(frozen=True, slots=True)
class Observation:
    """What the job runner saw of one finished run, handed to the alerts (the rest is in the store).

    ``allowance``: connection → (calls used, daily limit), as the vendor last reported them during the
    run (Salesforce's ``Sforce-Limit-Info``, HubSpot's daily headers); ``drift``: finding kind → count."""

    rule: str
    kind: str  # sync | reconcile
    status: str
    run_id: int | None = None
    message: str = ""
    allowance: dict[str, tuple[int, int]] = field(default_factory=dict)
    drift: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_sync(cls, report: RunReport, usage: dict[str, Any] | None = None) -> Observation:
        """From a sync's report and its connectors' ``ApiUsage`` by connection name."""
        allowance = {
            name: (u.used, u.limit)
            for name, u in (usage or {}).items()
            if u.used is not None and u.limit is not None and u.limit > 0
        }
        return cls(report.rule, "sync", report.status, report.run_id, report.message, allowance)

    @classmethod
    def of_reconcile(cls, rule: str, status: str, report: ReconcileReport | None, message: str = "") -> Observation:
        drift: dict[str, int] = {}
        for finding in report.drift if report is not None else []:
            drift[finding.kind.value] = drift.get(finding.kind.value, 0) + 1
        run_id = report.run_id if report is not None else None
        return cls(rule, "reconcile", status, run_id, report.message if report is not None else message, drift=drift)


@dataclass(frozen=True, slots=True)
class Condition:
    """One alert as a run judged it. ``fingerprint`` None: not firing (``what`` then says why it cleared)."""

    kind: AlertKind
    rule: str
    subject: str
    fingerprint: str | None
    what: str
    see: str

    @property
    def firing(self) -> bool:
        return self.fingerprint is not None


def judge(config: ClientConfig, store: Store, seen: Observation) -> list[Condition]:
    """Every condition ``seen`` says something about, given the client's ``alerts`` settings."""
    settings = config.alerts
    if settings is None:
        return []
    cmd = _Commands(config.path, seen.rule)
    out: list[Condition] = []
    if seen.kind == "sync":
        out.extend(_failed_runs(settings, store, seen, cmd))
        out.extend(_held_plan(settings, seen, cmd))
        out.extend(_dead_letters(settings, store, seen, cmd))
        out.extend(_allowance(settings, seen, cmd))
    else:
        out.extend(_drift(settings, seen, cmd))
    out.extend(_takeover(settings, store, seen, cmd))
    return out


@dataclass(frozen=True, slots=True)
class _Commands:
    """The commands that show more, spelled for this client file and rule."""

    path: str
    rule: str

    def __call__(self, command: str, *extra: str) -> str:
        # The commands that run rules take the file as an argument; those that read the state, as -c.
        file = [_quoted(self.path)] if command in _FILE_ARGUMENT else ["-c", _quoted(self.path)]
        return " ".join(["campaign-bridge", command, *file, "--rule", self.rule, *extra])


#: Commands whose client file is their argument (``plan FILE``), not ``-c FILE``.
_FILE_ARGUMENT = frozenset({"plan", "sync", "reconcile", "validate"})


def _quoted(path: str) -> str:
    return path if re.fullmatch(r"[\w./@:+-]+", path) else "'" + path.replace("'", "'\\''") + "'"


def _failed_runs(settings: AlertSettings, store: Store, seen: Observation, cmd: _Commands) -> list[Condition]:
    n = settings.failed_runs
    if n is None:
        return []
    see = cmd("runs")
    if seen.status in _THROUGH:
        return [Condition(AlertKind.FAILED_RUNS, seen.rule, "", None, f"a sync run ended {seen.status}", see)]
    if seen.status != RunStatus.FAILED:
        return []  # stopped (quota), skipped: says nothing either way
    # Runs stopped by a quota (or still running) say nothing either way: the streak is counted past them.
    said = [r for r in store.runs(limit=n + STREAK_SLACK, rule=seen.rule, mode="sync") if r["status"] in _SAID]
    last = said[:n]
    if len(last) < n or any(r["status"] != RunStatus.FAILED for r in last):
        return []
    error = str(last[0]["error"] or seen.message or "no message")
    what = f"the rule failed its last {n} sync runs in a row; the last one said: {error}"
    return [Condition(AlertKind.FAILED_RUNS, seen.rule, "", re.sub(r"\d+", "#", error), what, see)]


def _held_plan(settings: AlertSettings, seen: Observation, cmd: _Commands) -> list[Condition]:
    if not settings.held_plans or seen.status not in _THROUGH:
        return []
    see = cmd("plan")
    if seen.status == RunStatus.HELD:
        what = seen.message or "the plan's removals were held by the rule's safety limits"
        return [Condition(AlertKind.HELD_PLAN, seen.rule, "", "held", what, see)]
    return [Condition(AlertKind.HELD_PLAN, seen.rule, "", None, f"a sync run applied its plan ({seen.status})", see)]


def _dead_letters(settings: AlertSettings, store: Store, seen: Observation, cmd: _Commands) -> list[Condition]:
    if not settings.dead_letters:
        return []
    dead = store.ledger_counts(seen.rule).get(LedgerState.DEAD, 0)
    see = cmd("conflicts", "--kind", "dead_letter") + f"; then {cmd('retry')}"
    if not dead:
        return [Condition(AlertKind.DEAD_LETTERS, seen.rule, "", None, "no dead letters are left", see)]
    what = f"{dead} change{'s' if dead != 1 else ''} gave up after their last attempt (dead letters)"
    return [Condition(AlertKind.DEAD_LETTERS, seen.rule, "", str(dead), what, see)]


def _allowance(settings: AlertSettings, seen: Observation, cmd: _Commands) -> list[Condition]:
    share = settings.allowance_share
    if share is None:
        return []
    out = []
    for connection, (used, limit) in sorted(seen.allowance.items()):
        ratio = used / limit
        what = (
            f"connection {connection!r} has used {used:,} of its {limit:,} daily API calls ({ratio:.0%}), "
            f"over the alert's {settings.api_allowance}; seen by a run of rule {seen.rule!r}"
        )
        fingerprint = "over" if ratio >= share else None
        if fingerprint is None:
            what = (
                f"connection {connection!r} is back under {settings.api_allowance} of its daily API calls ({ratio:.0%})"
            )
        out.append(Condition(AlertKind.API_ALLOWANCE, "", connection, fingerprint, what, cmd("runs")))
    return out


def _drift(settings: AlertSettings, seen: Observation, cmd: _Commands) -> list[Condition]:
    if not settings.drift or seen.status in (RunStatus.FAILED, RunStatus.STOPPED, "error"):
        return []
    see = cmd("reconcile")
    if not seen.drift:
        return [Condition(AlertKind.DRIFT, seen.rule, "", None, "a reconcile found no drift", see)]
    found = ", ".join(f"{k}: {v}" for k, v in sorted(seen.drift.items()))
    what = f"the reconcile found the target changed behind the rule's back ({found})"
    fingerprint = ",".join(f"{k}={v}" for k, v in sorted(seen.drift.items()))
    return [Condition(AlertKind.DRIFT, seen.rule, "", fingerprint, what, f"{see}; to repair: {see} --repair")]


def _takeover(settings: AlertSettings, store: Store, seen: Observation, cmd: _Commands) -> list[Condition]:
    if not settings.takeovers:
        return []
    dead = [r for r in store.runs(limit=TAKEOVER_LOOKBACK, rule=seen.rule) if r["error"] == DEAD_WORKER]
    if not dead:
        return []
    newest = dead[0]
    what = (
        f"the worker of {newest['mode']} run {newest['id']} stopped (killed or crashed) before the run finished; "
        "the next run took over the rule's lease and carries on where it stopped"
    )
    return [Condition(AlertKind.TAKEOVER, seen.rule, "", f"run {newest['id']}", what, cmd("runs"))]
