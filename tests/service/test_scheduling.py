"""The scheduler, in process, with time driven by hand: schedules, coalescing, persistence, once per fire
time, reload, graceful stop, nightly reconcile."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from campaign_bridge.connectors.memory import MemoryMA
from campaign_bridge.service import Service
from tests.service.helpers import Client, FakeClock, at


@contextmanager
def serving(client: Client, clock: FakeClock, **kw: object) -> Iterator[Service]:
    service = Service([str(client.config_path)], clock=clock, reconcile_cron=None, **kw)  # type: ignore[arg-type]
    service.start(paused=True)
    try:
        yield service
    finally:
        service.stop()


def _one_rule(client: Client, schedule: str = "every: 1m", name: str = "webinar") -> None:
    client.campaign("Webinar", 3)
    client.ma_list("Nurture")
    client.write([{"name": name, "campaign": "Webinar", "list": "Nurture", "schedule": schedule}])


def test_rules_run_on_their_schedules_and_missed_fire_times_coalesce_into_one_run(client: Client) -> None:
    client.campaign("Webinar", 3)
    client.campaign("Pricing", 2, start=10)
    client.ma_list("Nurture")
    client.ma_list("Sales")
    client.write(
        [
            {"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1m"},
            {"name": "pricing", "campaign": "Pricing", "list": "Sales", "schedule": 'cron: "*/5 * * * *"'},
        ]
    )
    clock = FakeClock(at("00:00:30"))
    with serving(client, clock) as service:
        service.run_due()
        assert client.runs() == []

        service.run_due(clock.set(at("00:01:00")))
        assert [r["rule"] for r in client.runs()] == ["webinar"]

        # Four fire times of "webinar" (00:02 … 00:05) passed unseen: one run, not four.
        service.run_due(clock.set(at("00:05:10")))
        assert sorted(r["rule"] for r in client.runs()) == ["pricing", "webinar", "webinar"]
        assert {r["status"] for r in client.runs()} == {"ok"}
        assert len(client.live_ma().members(client.live_ma().container_id("Sales"))) == 2

        service.run_due(clock.set(at("00:05:50")))
        assert len(client.runs()) == 3


def test_jobs_live_in_the_state_store_so_a_restart_catches_up_once(client: Client) -> None:
    _one_rule(client, "every: 10m")
    clock = FakeClock(at("00:00:00"))
    with serving(client, clock) as service:
        service.run_due(clock.set(at("00:10:00")))
        assert len(client.runs()) == 1

    # Down for three hours: eighteen fire times missed. The job, kept in the state database, still
    # remembers it was due at 00:20, so the restarted service runs once, then follows the schedule.
    clock.set(at("03:05:00"))
    with serving(client, clock) as service:
        job = service.scheduler.get_job("sync:webinar", jobstore="acme")
        assert job.next_run_time == at("00:20:00")
        service.run_due()
        assert len(client.runs()) == 2
        assert service.scheduler.get_job("sync:webinar", jobstore="acme").next_run_time == at("03:10:00")
        service.run_due()
        assert len(client.runs()) == 2


def test_a_fire_time_runs_once_even_when_two_schedulers_reach_it(client: Client) -> None:
    _one_rule(client)
    clock = FakeClock(at("00:00:10"))
    with serving(client, clock) as first, serving(client, clock) as second:
        second.run_due(clock.set(at("00:01:00")))
        first.run_due()  # the shared job store already says the next fire time is 00:02
        assert len(client.runs()) == 1

        # Two processes that read the job store at the same moment both submit 00:02. The rule's lease
        # is free again by the time the later one starts; the claim on the fire time is what stops it.
        clock.set(at("00:02:00"))
        second.run("acme", "webinar", "sync", at("00:02:00"))
        first.run("acme", "webinar", "sync", at("00:02:00"))
        first.run("acme", "webinar", "sync", at("00:01:00"))  # an older fire time never runs after a newer
        assert len(client.runs()) == 2
        skipped = first.metrics.registry.get_sample_value(
            "campaign_bridge_skipped_runs_total", {"client": "acme", "rule": "webinar", "reason": "claimed"}
        )
        assert skipped == 2

        first.run_due(clock.set(at("00:03:00")))
        second.run_due()
        assert len(client.runs()) == 3


def test_an_invalid_file_on_reload_is_refused_and_the_old_configuration_keeps_running(client: Client) -> None:
    _one_rule(client)
    good = client.config_path.read_text()
    clock = FakeClock(at("00:00:10"))
    with serving(client, clock) as service:
        client.config_path.write_text(good.replace("every: 1m", "every: soon"))
        assert service.reload() is False
        job = service.scheduler.get_job("sync:webinar", jobstore="acme")
        assert "every 1m" in job.name

        service.run_due(clock.set(at("00:01:00")))
        assert len(client.runs()) == 1

        # A valid change takes effect: a new rule is scheduled, the old one's schedule changes.
        client.campaign("Pricing", 2, start=10)
        client.ma_list("Sales")
        client.forget()  # the in-process memory systems reload the files with the new containers
        client.write(
            [
                {"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 5m"},
                {"name": "pricing", "campaign": "Pricing", "list": "Sales", "schedule": "every: 1m"},
            ]
        )
        assert service.reload() is True
        service.run_due(clock.set(at("00:02:00")))
        assert [r["rule"] for r in client.runs()] == ["webinar", "pricing"]
        service.run_due(clock.set(at("00:05:00")))  # pricing (00:03 … 00:05, coalesced) and webinar
        assert sorted(r["rule"] for r in client.runs()) == ["pricing", "pricing", "webinar", "webinar"]


def test_stop_lets_the_run_in_flight_finish_its_batch_and_starts_no_other(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MemoryMA, "write_batch_size", 2)
    client.campaign("Webinar", 5)
    for i in range(5):
        client.ma.add_person(f"p{i}@example.com", "contact")  # known to the MA: the run only adds members
    client.ma_list("Nurture")
    client.write([{"name": "webinar", "campaign": "Webinar", "list": "Nurture", "schedule": "every: 1m"}])
    clock = FakeClock(at("00:00:10"))
    with serving(client, clock) as service:
        ma = client.live_ma()
        real_clock = ma.clock

        def stop_on_first_write() -> datetime:
            service.request_stop()  # what SIGTERM does, arriving while the first batch is written
            return real_clock()  # type: ignore[no-any-return]

        ma.clock = stop_on_first_write
        service.run_due(clock.set(at("00:01:00")))
        ma.clock = real_clock

        (run,) = client.runs()
        assert len(ma.members(ma.container_id("Nurture"))) == 2  # the batch in flight, and no other
        assert run["status"] == "partial"
        assert "stopped on request" in run["error"]

        service.run_due(clock.set(at("00:02:00")))
        assert len(client.runs()) == 1


def test_each_rule_is_reconciled_nightly(client: Client) -> None:
    _one_rule(client, "every: 1d")
    clock = FakeClock(at("00:00:10"))
    service = Service([str(client.config_path)], clock=clock)
    service.start(paused=True)
    try:
        assert service.scheduler.get_job("reconcile:webinar", jobstore="acme").next_run_time == at("02:30:00")
        service.run_due(clock.set(at("02:30:00")))
        value = service.metrics.registry.get_sample_value(
            "campaign_bridge_runs_total", {"client": "acme", "rule": "webinar", "kind": "reconcile", "status": "ok"}
        )
        assert value == 1
        assert client.runs(mode="sync") == []
    finally:
        service.stop()


#: 9 levels of 9 aliases each: 9**9 values once expanded, the file that once took serve's memory.
BOMB = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(lambda good: good + "bomb: &a [*a]\n", id="recursive-anchor"),
        pytest.param(lambda good: good + BOMB, id="alias-bomb"),
        pytest.param(lambda good: good.replace("client: acme", "client: acme\nclient: other"), id="duplicate-key"),
        pytest.param(lambda good: good.replace("every: 1m", "every: 0s"), id="busy-schedule"),
        pytest.param(lambda good: good.encode("utf-16").decode("latin-1"), id="utf-16"),
    ],
)
def test_a_hostile_file_on_reload_is_refused_and_the_old_schedule_keeps_running(
    client: Client, hostile: Callable[[str], str]
) -> None:
    _one_rule(client)
    good = client.config_path.read_text()
    clock = FakeClock(at("00:00:10"))
    with serving(client, clock) as service:
        client.config_path.write_bytes(hostile(good).encode("latin-1", "replace"))
        assert service.reload() is False
        job = service.scheduler.get_job("sync:webinar", jobstore="acme")
        assert "every 1m" in job.name
        service.run_due(clock.set(at("00:01:00")))
        assert len(client.runs()) == 1
