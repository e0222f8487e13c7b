"""The one retry policy, checked per connector over real HTTP against each sandbox.

Transient answers (5xx, a dropped connection, an HTML page instead of JSON) are retried with capped,
jittered backoff; a 429 waits what the vendor said (HubSpot) or backs off (Salesforce sends no
Retry-After); an expired session or token is renewed once; a spent daily quota stops the run and the
next run resumes. Waits are recorded, never slept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot.errors import TEN_SECOND_WINDOW
from campaign_bridge.connectors.policy import DEFAULT_MAX_WAIT
from campaign_bridge.errors import QuotaExhaustedError, TransientError
from campaign_bridge.sandbox.http import SandboxServer
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.reliability.bench import Bench

VENDORS = ["sf", "hs"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    b = Bench(tmp_path_factory.mktemp("retry"))
    yield b
    b.close()


@pytest.fixture
def bench(shared: Bench) -> Bench:
    shared.reset()
    return shared


def _connector(bench: Bench, vendor: str, *, attempts: int = 4, hs_oauth: bool = False) -> Connector:
    config = bench.config("", "sqlite://", hs_oauth=hs_oauth)
    return bench.connectors(config, attempts=attempts)[vendor]


def _server(bench: Bench, vendor: str) -> SandboxServer:
    return bench.sf.server if vendor == "sf" else bench.hs.server


def _seed(bench: Bench) -> None:
    bench.sf.state.add_campaign("Webinar")
    bench.hs.state.add_list("Nurture", "MANUAL")


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", ["error", "drop", "garbage"])
def test_transient_failures_are_retried_with_capped_jittered_backoff(bench: Bench, vendor: str, fault: str) -> None:
    _seed(bench)
    conn = _connector(bench, vendor)
    conn.list_containers()  # logged in, warmed up
    _server(bench, vendor).faults.queue(fault, 3)

    names = [c.name for c in conn.list_containers()]

    assert ("Webinar" if vendor == "sf" else "Nurture") in names
    assert len(bench.waits) == 3
    assert all(0 < w <= DEFAULT_MAX_WAIT + 1 for w in bench.waits)  # capped (jitter adds at most 1s)
    assert len(set(bench.waits)) == 3  # growing and jittered, not a fixed beat


@pytest.mark.parametrize("vendor", VENDORS)
def test_retries_end_and_the_failure_surfaces_as_transient(bench: Bench, vendor: str) -> None:
    _seed(bench)
    conn = _connector(bench, vendor, attempts=3)
    conn.list_containers()
    server = _server(bench, vendor)
    server.faults.configure(error_rate=1.0, error_status=503)

    with pytest.raises(TransientError, match="503"):
        conn.list_containers()
    assert server.faults.injected["error"] == 3  # exactly the policy's attempts
    assert len(bench.waits) == 2


def test_hubspot_429_waits_what_hubspot_says(bench: Bench) -> None:
    _seed(bench)
    conn = _connector(bench, "hs")
    conn.list_containers()
    bench.hs.server.faults.configure(error_status=429)
    bench.hs.server.faults.queue("error")

    conn.list_containers()

    assert bench.waits == [TEN_SECOND_WINDOW]  # no Retry-After: HubSpot's rolling ten-second window


def test_salesforce_429_backs_off_and_retries(bench: Bench) -> None:
    _seed(bench)
    conn = _connector(bench, "sf")
    conn.list_containers()
    bench.sf.server.faults.configure(error_status=429)
    bench.sf.server.faults.queue("error")

    assert [c.name for c in conn.list_containers()] == ["Webinar"]
    assert len(bench.waits) == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_expired_session_or_token_is_renewed_once(bench: Bench, vendor: str) -> None:
    _seed(bench)
    conn = _connector(bench, vendor, hs_oauth=True)
    conn.list_containers()
    server = _server(bench, vendor)
    login = r"/services/oauth2/token" if vendor == "sf" else r"/oauth/v1/token"
    logins = server.calls(login)
    (bench.sf.state.expire_sessions if vendor == "sf" else bench.hs.state.expire_tokens)()

    conn.list_containers()

    assert server.calls(login) == logins + 1
    assert bench.waits == []  # a renewal is not a retry


def test_threads_that_find_the_salesforce_session_expired_together_log_in_once(bench: Bench) -> None:
    _seed(bench)
    conn = _connector(bench, "sf")
    conn.list_containers()
    logins = bench.sf.server.calls(r"/services/oauth2/token")
    bench.sf.state.expire_sessions()
    start = threading.Barrier(4)
    found: list[list[str]] = []

    def look() -> None:
        start.wait(5)
        found.append([c.name for c in conn.list_containers()])

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert found == [["Webinar"]] * 4
    assert bench.sf.server.calls(r"/services/oauth2/token") == logins + 1  # one renewal serves them all


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_spent_daily_quota_stops_the_run_and_the_next_run_resumes(bench: Bench, vendor: str) -> None:
    camp = bench.sf.state.add_campaign("Webinar")
    nurture = bench.hs.state.add_list("Nurture", "MANUAL")
    for i in range(6):
        bench.sf.state.add_member(camp, bench.sf.state.add_contact(f"p{i}@example.com"))
    store = Store(f"sqlite:///{bench.tmp / f'quota-{vendor}.db'}")
    config = bench.config(
        """  - name: r
    from: {connection: sf, campaign: Webinar}
    to: {connection: hs, list: Nurture}
""",
        "sqlite://",
    )
    if vendor == "sf":
        bench.sf.state.set_daily_limit(bench.sf.state.api_usage + 1)
    else:
        bench.hs.state.set_limits(daily=3, search_per_second=1000)

    stopped = Engine(config, store, bench.connectors(config), clock=bench.clock).sync("r")

    assert stopped.status == "stopped"
    assert "daily" in stopped.message
    assert "next run resumes" in stopped.message
    assert len(bench.hs.state.list_members(nurture)) < 6

    bench.sf.state.set_daily_limit(None)  # a new day
    bench.hs.state.set_limits(search_per_second=1000)
    bench.clock.tick(60)
    resumed = Engine(config, store, bench.connectors(config), clock=bench.clock).sync("r")

    assert resumed.status == "ok"
    assert len(bench.hs.state.list_members(nurture)) == 6
    store.close()


def test_quota_errors_are_not_retried(bench: Bench) -> None:
    _seed(bench)
    conn = _connector(bench, "sf")
    conn.list_containers()
    bench.sf.state.set_daily_limit(bench.sf.state.api_usage)
    with pytest.raises(QuotaExhaustedError):
        conn.list_containers()
    assert bench.waits == []
