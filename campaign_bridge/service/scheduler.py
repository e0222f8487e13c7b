"""APScheduler 3, driven by an injectable clock and handing each job its fire time.

APScheduler 3 reads the wall clock in its main loop (``_process_jobs``) and in its executors' misfire
check, and never tells a job function which fire time it is running. ``serve`` needs both: tests drive
time by hand, and a run claims its fire time so that it runs once across processes. So:

* ``ClockedScheduler`` is a ``BackgroundScheduler`` whose loop body is ``process_due(now)``: the upstream
  loop (due jobs from every job store, coalescing, next fire time written back) with ``now`` passed in.
  Its main thread calls it with ``clock()``; tests call it with whatever time they like.
* ``RuleExecutor`` runs jobs in a thread pool, checks misfires against the same clock, and calls the job
  function with the scheduler's *target* (the service) and the fire time, plus the job's stored kwargs.
  ``drain()`` waits until submitted runs have finished (tests, shutdown).

Everything else (job stores, triggers, events, add/modify/remove, pause, shutdown) is APScheduler's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.base import BaseExecutor, MaxInstancesReachedError
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED

Clock = Callable[[], datetime]


class JobTarget(Protocol):
    """What ``RuleExecutor`` hands every job function: the one thing a job asks of the service.

    Jobs (``jobs.py``) see the service only through this, so they need not import ``service.py``, which
    imports them.
    """

    def run(self, client_name: str, rule_name: str, kind: str, fire_time: datetime) -> None:
        """Run one fire time of one job."""


log = logging.getLogger(__name__)

#: The scheduler re-reads its job stores at least this often, so a job another process added or moved
#: (a reload elsewhere) is seen within this many seconds.
MAX_WAIT_SECONDS = 30.0


class RuleExecutor(BaseExecutor):  # type: ignore[misc]
    """Run jobs in a thread pool as ``job.func(target, fire_time=…, **job.kwargs)``."""

    def __init__(self, target: JobTarget, clock: Clock, max_workers: int = 4) -> None:
        super().__init__()
        self._target = target
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="campaign-bridge-run")
        self._futures: set[Future[list[JobExecutionEvent]]] = set()
        self._futures_lock = threading.Lock()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        future = self._pool.submit(self._run, job, run_times)
        with self._futures_lock:
            self._futures.add(future)

        def done(f: Future[list[JobExecutionEvent]]) -> None:
            with self._futures_lock:
                self._futures.discard(f)
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        future.add_done_callback(done)

    def _run(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events: list[JobExecutionEvent] = []
        for run_time in run_times:
            late = self._clock() - run_time
            if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
                log.warning("job %s missed its fire time %s by %s; skipped", job.id, run_time.isoformat(), late)
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time))
                continue
            try:
                job.func(self._target, *job.args, fire_time=run_time, **job.kwargs)
            except Exception as exc:
                log.exception("job %s failed at its fire time %s", job.id, run_time.isoformat())
                events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=exc))
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time))
        return events

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for every submitted run to finish; False if some are still running after ``timeout``."""
        with self._futures_lock:
            pending = set(self._futures)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def busy(self) -> bool:
        with self._futures_lock:
            return bool(self._futures)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class ClockedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """A ``BackgroundScheduler`` that asks ``clock`` for the time (see the module docstring)."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self.clock = clock
        super().__init__(**options)

    def _process_jobs(self) -> float | None:
        if self.state == STATE_PAUSED:
            return None
        return self.process_due(self.clock())

    def process_due(self, now: datetime) -> float | None:
        """Submit every job due at ``now`` (coalesced as the job says); seconds until the next is due.

        APScheduler 3's ``_process_jobs`` with ``now`` given, and one change: a job removed meanwhile by
        another process is skipped instead of ending the scheduler's thread.
        """
        next_wakeup: datetime | None = None
        events: list[Any] = []
        with self._jobstores_lock:
            for alias, jobstore in self._jobstores.items():
                try:
                    due_jobs = jobstore.get_due_jobs(now)
                except Exception as exc:
                    log.warning("cannot read due jobs from job store %r: %s", alias, exc)
                    retry = now + timedelta(seconds=self.jobstore_retry_interval)
                    next_wakeup = retry if next_wakeup is None else min(next_wakeup, retry)
                    continue
                for job in due_jobs:
                    run_times = job._get_run_times(now)
                    run_times = run_times[-1:] if run_times and job.coalesce else run_times
                    if not run_times:
                        continue
                    executor = self._lookup_executor(job.executor)
                    try:
                        executor.submit_job(job, run_times)
                    except MaxInstancesReachedError:
                        log.warning("job %s still running; fire time %s skipped", job.id, run_times[-1].isoformat())
                        events.append(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, job.id, alias, run_times))
                    else:
                        events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times))
                    following = job.trigger.get_next_fire_time(run_times[-1], now)
                    try:
                        if following:
                            job._modify(next_run_time=following)
                            jobstore.update_job(job)
                        else:
                            jobstore.remove_job(job.id)
                    except JobLookupError:
                        log.info("job %s was removed while it ran (a reload elsewhere)", job.id)
                store_next = jobstore.get_next_run_time()
                if store_next is not None and (next_wakeup is None or store_next < next_wakeup):
                    next_wakeup = store_next
        for event in events:
            self._dispatch_event(event)
        if self.state == STATE_PAUSED or next_wakeup is None:
            return MAX_WAIT_SECONDS if self.state != STATE_PAUSED else None
        seconds = (next_wakeup - self.clock()).total_seconds()
        return min(max(seconds, 0.0), MAX_WAIT_SECONDS)
