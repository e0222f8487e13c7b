"""The run scope seen by two workers sharing one state store and one clock: a running rule's lease keeps
the other worker out for as long as the run renews it, a dead worker's lease and run row are taken over by
the next run on its host, and the run row says how the run ended."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_bridge.errors import AuthError, LeaseHeldError, QuotaExhaustedError, TransientError
from campaign_bridge.mapping.model import ApiUsage
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.scope import LEASE_SECONDS, RunScope
from campaign_bridge.sync.store.runs import DEAD_WORKER
from campaign_bridge.sync.store.store import Store
from tests.fresh_store import fresh_sqlite_url

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(fresh_sqlite_url(tmp_path / "state.db"))
    yield s
    s.close()


def _worker(store: Store, clock: Clock, name: str) -> RunScope:
    # a worker of another host is never presumed dead: only its lease's expiry frees the rule
    return RunScope(store, {}, client="acme", clock=clock, holder=f"elsewhere-{name}:1:{name}")


def _dead_holder() -> str:
    """A holder of this host whose process is gone (a worker killed mid-run)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:deadbeef"


def test_a_second_worker_is_refused_while_the_first_runs_the_rule(store: Store) -> None:
    clock = Clock()
    first, second = _worker(store, clock, "a"), _worker(store, clock, "b")
    refused: list[str] = []

    def work(now: datetime) -> None:
        clock.tick(60)  # a minute into the run, well inside the lease
        with pytest.raises(LeaseHeldError) as exc:
            second.run(RunReport("web", "sync"), lambda now: None)
        refused.append(str(exc.value))

    first.run(RunReport("web", "sync"), work)

    assert refused == ["rule 'web' is running in another worker; this run did nothing"]
    # the refused worker recorded no run; the first one's lease is released when it ends
    assert [r["holder"] for r in store.runs(rule="web")] == ["elsewhere-a:1:a"]
    second.run(RunReport("web", "sync"), lambda now: None)
    assert len(store.runs(rule="web")) == 2


def test_a_renewed_lease_keeps_the_rule_past_the_first_lease(store: Store) -> None:
    clock = Clock()
    first, second = _worker(store, clock, "a"), _worker(store, clock, "b")
    seen: list[bool] = []

    def work(now: datetime) -> None:
        clock.tick(LEASE_SECONDS - 60)
        first.renew("web")  # a long run renews its lease after each batch
        clock.tick(120)  # past the first lease's expiry, inside the renewed one
        try:
            second.run(RunReport("web", "sync"), lambda now: None)
            seen.append(True)
        except LeaseHeldError:
            seen.append(False)

    first.run(RunReport("web", "sync"), work)
    assert seen == [False]


def test_a_lease_not_renewed_frees_the_rule_once_it_expires(store: Store) -> None:
    clock = Clock()
    first, second = _worker(store, clock, "a"), _worker(store, clock, "b")
    seen: list[bool] = []

    def work(now: datetime) -> None:
        clock.tick(LEASE_SECONDS + 1)  # a worker elsewhere that hung: its lease runs out
        second.run(RunReport("web", "sync"), lambda now: seen.append(True))

    first.run(RunReport("web", "sync"), work)
    assert seen == [True]


def test_the_next_run_on_the_host_takes_a_dead_workers_lease_and_closes_its_run(store: Store) -> None:
    clock = Clock()
    dead = RunScope(store, {}, client="acme", clock=clock, holder=_dead_holder())
    live = RunScope(store, {}, client="acme", clock=clock)
    ran: list[int | None] = []

    def killed(now: datetime) -> None:
        # the dead worker's run is still "running" with its lease held when the next run starts
        clock.tick(60)
        report = RunReport("web", "sync")
        live.run(report, lambda now: None)
        ran.append(report.run_id)
        (row,) = [r for r in store.runs(rule="web") if r["id"] != report.run_id]
        assert (row["status"], row["error"]) == ("failed", DEAD_WORKER)

    dead.run(RunReport("web", "sync"), killed)
    assert ran
    assert ran[0] is not None


def test_a_failed_run_is_recorded_with_its_message_and_frees_the_rule(store: Store) -> None:
    clock = Clock()
    scope = _worker(store, clock, "a")
    report = RunReport("web", "sync")

    def work(now: datetime) -> None:
        raise TransientError("Marketo answered 606: max rate limit exceeded")

    scope.run(report, work)
    (row,) = store.runs(rule="web")
    assert (row["status"], row["error"]) == ("failed", "Marketo answered 606: max rate limit exceeded")
    assert report.status == "failed"
    assert store.lease_holder("web") is None


def test_a_run_out_of_quota_is_recorded_stopped(store: Store) -> None:
    scope = _worker(store, Clock(), "a")

    def work(now: datetime) -> None:
        raise QuotaExhaustedError("the daily API quota is spent; the run resumes tomorrow")

    scope.run(RunReport("web", "sync"), work)
    (row,) = store.runs(rule="web")
    assert (row["status"], row["error"]) == ("stopped", "the daily API quota is spent; the run resumes tomorrow")


def test_a_fatal_error_is_recorded_then_raised(store: Store) -> None:
    scope = _worker(store, Clock(), "a")
    logged: list[str] = []

    def work(now: datetime) -> None:
        raise AuthError("connection 'crm': the credentials were refused")

    with pytest.raises(AuthError):
        scope.run(RunReport("web", "sync"), work, finishing=lambda: logged.append("finishing"))
    (row,) = store.runs(rule="web")
    assert (row["status"], row["error"]) == ("failed", "connection 'crm': the credentials were refused")
    assert logged == ["finishing"]
    assert store.lease_holder("web") is None


def test_a_bug_in_the_run_is_recorded_by_its_type_only(store: Store) -> None:
    scope = _worker(store, Clock(), "a")

    def work(now: datetime) -> None:
        raise KeyError("secret-token-123")

    with pytest.raises(KeyError):
        scope.run(RunReport("web", "sync"), work)
    (row,) = store.runs(rule="web")
    assert row["status"] == "failed"
    assert row["error"] == "the run stopped on an unexpected KeyError; see the worker's log"


class Counting:
    """A connector as the scope sees one: the API calls it has made in this process."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def usage(self) -> ApiUsage:
        return ApiUsage(calls=self.calls)


def test_a_run_reports_the_api_calls_it_made_not_those_made_before(store: Store) -> None:
    crm, ma = Counting(40), Counting(7)  # calls made by earlier runs in this process
    scope = RunScope(store, {"crm": crm, "ma": ma}, client="acme", clock=Clock(), holder="elsewhere-a:1:a")  # type: ignore[dict-item]
    report = RunReport("web", "sync")

    def work(now: datetime) -> None:
        crm.calls += 3  # the run reads the campaign; it writes nothing to the MA

    scope.run(report, work)

    assert report.api_calls == {"crm": 3}
    (row,) = store.runs(rule="web")
    assert row["api_calls"] == {"crm": 3}
