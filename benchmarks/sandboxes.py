"""The two sandboxes (Salesforce over HTTPS, HubSpot over HTTP), seeded for one benchmark and served
from their own process, so that the numbers measure campaign-bridge and not the emulators competing
with it for the GIL.

``SandboxHost`` starts a child process (``spawn``), which builds both sandboxes, seeds them with
``Scenario`` and answers a few commands over a pipe: ``change`` (move members in or out, for the
incremental run), ``stats`` (the child's CPU seconds, peak memory and request counts) and ``stop``.

Record changes are stamped by a shifted clock: seeding happens two hours in the past (the last member
joins an hour later), so that an incremental read after the first sync (``SystemModstamp >=`` watermark
minus the look-back) sees only what ``change`` touched, as it would in a real org.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

#: The names the seeded containers carry (the rule file names them).
CAMPAIGN = "Bench campaign"
LIST = "Bench list"
#: How far in the past seeding is stamped.
SEED_AGE = timedelta(hours=2)


def email(i: int) -> str:
    return f"person{i:07d}@bench.example"


@dataclass(frozen=True)
class Scenario:
    """What the sandboxes hold before the first run.

    ``direction`` "crm_to_ma": a Salesforce campaign of ``members`` contacts, the same people as HubSpot
    contacts, and an empty MANUAL list. "ma_to_crm": a HubSpot list of ``members`` contacts, the same people
    as Salesforce contacts, and an empty campaign. ``hubspot_limit``: HubSpot's per-10-second limit (None:
    off); ``salesforce_daily``: the org's daily API allocation (None: off).
    """

    direction: str
    members: int
    hubspot_limit: int | None = None
    salesforce_daily: int | None = None


@dataclass(frozen=True)
class Endpoints:
    """What the benchmark process needs to reach the seeded sandboxes."""

    sf_url: str
    sf_ca_bundle: str
    sf_client_id: str
    sf_client_secret: str
    hs_url: str
    hs_token: str
    seed_seconds: float


class _ShiftedClock:
    """Real UTC time plus ``offset`` (negative while seeding)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _serve(scenario: Scenario, pipe: Connection) -> None:
    """The child process: build, seed, serve, answer commands until ``stop``."""
    from campaign_bridge.sandbox.hubspot import HubSpotSandbox
    from campaign_bridge.sandbox.salesforce import SalesforceSandbox

    started = time.perf_counter()
    clock = _ShiftedClock(-SEED_AGE)
    sf = SalesforceSandbox(daily_limit=scenario.salesforce_daily, clock=clock)
    hs = HubSpotSandbox(
        ten_second_limit=scenario.hubspot_limit, clock=lambda: clock().timestamp(), search_per_second=None
    )
    emails = [email(i) for i in range(scenario.members)]
    sf_ids = sf.state.bulk_add_contacts(list(emails))
    hs_ids = hs.state.bulk_add_contacts(emails)
    campaign = sf.state.add_campaign(CAMPAIGN, statuses=[("Sent", False), ("Responded", True)])
    hub_list = hs.state.add_list(LIST, "MANUAL")
    if scenario.direction == "crm_to_ma":
        # Members join over time: the last one an hour after the rest. A real campaign's latest change is
        # not shared by every member; were it, each incremental read's look-back would re-read them all.
        sf.state.bulk_add_members(campaign, sf_ids[:-1])
        clock.offset = -SEED_AGE / 2
        sf.state.bulk_add_members(campaign, sf_ids[-1:])
    else:
        hs.state.add_list_members(hub_list, hs_ids)
    sf.start()
    hs.start()
    clock.offset = timedelta(0)
    creds = sf.credentials
    pipe.send(
        Endpoints(
            sf_url=sf.instance_url,
            sf_ca_bundle=str(sf.ca_bundle),
            sf_client_id=creds["client_id"],
            sf_client_secret=creds["client_secret"],
            hs_url=hs.url,
            hs_token=hs.token,
            seed_seconds=time.perf_counter() - started,
        )
    )
    cpu_at_start = time.process_time()
    next_person = scenario.members
    try:
        while True:
            command, arg = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "stats":
                pipe.send(
                    {
                        "cpu_seconds": time.process_time() - cpu_at_start,
                        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        "requests": {"salesforce": len(sf.server.log), "hubspot": len(hs.server.log)},
                    }
                )
            elif command == "reset-stats":
                sf.server.reset_log()
                hs.server.reset_log()
                cpu_at_start = time.process_time()
                pipe.send(None)
            elif command == "change":
                # ``arg`` members leave the source and as many new people join it (half each way).
                pipe.send(_change(scenario, sf, hs, campaign, hub_list, arg, next_person))
                next_person += arg
            else:
                pipe.send(ValueError(f"unknown command {command!r}"))
    finally:
        sf.stop()
        hs.stop()


def _change(scenario: Scenario, sf: Any, hs: Any, campaign: str, hub_list: str, count: int, first_new: int) -> int:
    """``count`` source membership changes: ``count // 2`` members leave, the rest are new people who join."""
    leaving = count // 2
    joining = count - leaving
    new_emails = [email(i) for i in range(first_new, first_new + joining)]
    sf_new = sf.state.bulk_add_contacts(new_emails)
    hs_new = hs.state.bulk_add_contacts(new_emails)
    if scenario.direction == "crm_to_ma":
        members = sf.state.lookup("CampaignMember", "CampaignId", campaign)
        for member_id in list(members)[:leaving]:
            sf.state.remove_member(member_id)
        sf.state.bulk_add_members(campaign, sf_new)
    else:
        current = sorted(hs.state.list_members(hub_list), key=int)[:leaving]
        hs.state.remove_list_members(hub_list, current)
        hs.state.add_list_members(hub_list, hs_new)
    return count


class SandboxHost:
    """The sandboxes in a child process; a context manager."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(scenario, child), name="bench-sandboxes", daemon=True)
        self.endpoints: Endpoints | None = None

    def __enter__(self) -> SandboxHost:
        self._process.start()
        self.endpoints = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ask("stop")
        finally:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.terminate()

    def _ask(self, command: str, arg: Any = None) -> Any:
        self._pipe.send((command, arg))
        answer = self._pipe.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stats(self) -> dict[str, Any]:
        """The child's CPU seconds since the last reset, its peak memory and the requests it served."""
        result: dict[str, Any] = self._ask("stats")
        return result

    def reset_stats(self) -> None:
        self._ask("reset-stats")

    def change(self, count: int) -> int:
        """Make ``count`` source membership changes (half leave, half join); returns ``count``."""
        return int(self._ask("change", count))
