"""What ``serve`` schedules: one sync job per enabled rule, on its schedule, and one nightly reconcile.

A job is stored in the client's state database (APScheduler's SQLAlchemy job store) as a reference to
``scheduled_run`` and the names of its client, rule and kind, never the configuration itself: a run always
uses the configuration the process holds now (so a reload takes effect at the next fire time), and no
secret is pickled into the database.

Interval schedules are anchored at a fixed instant (``ANCHOR``), so every process computes the same fire
times (``every: 15m`` fires at :00, :15, :30, :45 UTC): a fire time is the same run whichever process
added the job, which is what lets a claim on it (``claims.py``) mean "this run". Missed fire times are
coalesced into one run, which still runs when it is at most one period late (``misfire_grace_time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from campaign_bridge.config.models import ClientConfig, Schedule, duration_seconds

if TYPE_CHECKING:
    # The service as jobs see it: a protocol below both modules (service.py imports this one).
    from campaign_bridge.service.scheduler import JobTarget as Service

#: Interval schedules count from here: fire times are the same in every process.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
#: The nightly reconcile of each rule (crontab, in the scheduler's time zone). Not configurable in the
#: client file yet (``defaults`` has no key for it); ``serve --reconcile-cron`` overrides it.
NIGHTLY_RECONCILE = "30 2 * * *"
#: A coalesced run is dropped only when even the newest missed fire time is older than this floor or one
#: period, whichever is longer.
MIN_GRACE_SECONDS = 60

SYNC, RECONCILE = "sync", "reconcile"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job as the configuration wants it; ``name`` is its fingerprint (a changed name replaces it)."""

    id: str
    client: str
    rule: str
    kind: str
    schedule: str  # "every 15m" / "cron */15 * * * *"
    trigger: Any
    grace: int

    @property
    def name(self) -> str:
        return f"{self.client}/{self.rule} {self.kind} {self.schedule} grace={self.grace}s tz={self.trigger.timezone}"

    @property
    def kwargs(self) -> dict[str, str]:
        return {"client": self.client, "rule": self.rule, "kind": self.kind}


def job_id(kind: str, rule: str) -> str:
    return f"{kind}:{rule}"


def trigger_for(schedule: Schedule, timezone: tzinfo) -> tuple[str, Any]:
    """The APScheduler trigger of a rule's schedule, and a readable description of it."""
    if schedule.every is not None:
        seconds = duration_seconds(schedule.every)
        return f"every {schedule.every}", IntervalTrigger(seconds=seconds, start_date=ANCHOR, timezone=timezone)
    assert schedule.cron is not None
    return f"cron {schedule.cron}", CronTrigger.from_crontab(schedule.cron, timezone=timezone)


def period_seconds(trigger: Any, now: datetime) -> float:
    """About one period of ``trigger``: the gap between its next two fire times after ``now``."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first) if first else None
    if first is None or second is None or second <= first:
        return MIN_GRACE_SECONDS
    gap: timedelta = second - first
    return gap.total_seconds()


def job_specs(config: ClientConfig, timezone: tzinfo, now: datetime, reconcile_cron: str | None) -> list[JobSpec]:
    """Every job of one client file: a sync per enabled rule, plus its reconcile when ``reconcile_cron``."""
    specs: list[JobSpec] = []
    for rule in config.rules:
        if not rule.enabled:
            continue
        plans = [(SYNC, *trigger_for(config.schedule_of(rule), timezone))]
        if reconcile_cron:
            plans.append(
                (RECONCILE, f"cron {reconcile_cron}", CronTrigger.from_crontab(reconcile_cron, timezone=timezone))
            )
        for kind, described, trigger in plans:
            grace = max(MIN_GRACE_SECONDS, int(period_seconds(trigger, now)))
            specs.append(JobSpec(job_id(kind, rule.name), config.client, rule.name, kind, described, trigger, grace))
    return specs


def scheduled_run(
    service: Service | None = None, *, client: str, rule: str, kind: str, fire_time: datetime | None = None
) -> None:
    """The function every stored job names: run ``kind`` of ``rule`` for ``fire_time`` in ``service``.

    ``RuleExecutor`` passes the service and the fire time; the job store holds only the names. (They
    default to None only because APScheduler checks a job's arguments against this signature.)
    """
    if service is None or fire_time is None:
        raise TypeError("scheduled_run is called by RuleExecutor, which passes the service and the fire time")
    service.run(client, rule, kind, fire_time)
