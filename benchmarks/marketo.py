"""``python -m benchmarks marketo``: API calls and limit-bound time of Marketo rules, against the minimum.

Both sandboxes run in a child process (Salesforce over HTTPS with simple-salesforce, Marketo over HTTP); the
engine runs each rule once (a first sync) and again (an idle run). Rules:

``sf_to_program``  a Salesforce campaign (half Registered, half Attended) → a Marketo program with a status map
``sf_to_list``     a Salesforce campaign → a Marketo static list
``list_to_sf``     a Marketo static list → a Salesforce campaign (status Responded); idle: the activity feed
``segment_to_sf``  ``{field: last_email_click_at, within: 30d}`` → a Salesforce campaign; idle: the feed
``smart_list_to_sf`` a Marketo smart list (clicked in 30 days) → a Salesforce campaign, calls table only: a
                   smart list has no change feed and no version, so its idle run is a bulk extract of the
                   list the last full read found (4 calls; the list is looked up by name once a day)

The minimum per system is worked out from the vendors' batch sizes (``minimum``); Marketo's calls are
counted at the sandbox (every request, identity included) and by the connector. With ``--limits on``
the Marketo sandbox enforces 100 calls per 20 s and 10 in flight, and the run's time is compared with what
that limit alone imposes on the calls the run made: the first 100 go at once, each further 100 waits for
the window to roll on.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import ceil
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.kit import SlidingWindowPacer
from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.marketo import MarketoSandbox
from campaign_bridge.sandbox.marketo.state import CLICK_EMAIL
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store

from .minimum import SF_FIND_CAMPAIGN, SF_LOGIN, SF_LOOKUP_BATCH, Minimum, sf_read, sf_write
from .sandboxes import SEED_AGE, _ShiftedClock

RULES = ("sf_to_program", "sf_to_list", "list_to_sf", "segment_to_sf")
#: The calls table has one more row: a smart list has no change feed, so its idle run is a bulk extract again
#: (the limits runs leave it out: four calls never meet the window).
CALL_RULES = (*RULES, "smart_list_to_sf")
#: The segment rule's instance: this share of the leads clicked an e-mail in the last 30 days, as many
#: more clicked 31 to 90 days ago (read past by the activities call, never selected).
CLICKED_SHARE = 0.3
LABELS = {
    "sf_to_program": "Salesforce campaign → Marketo program (status map)",
    "sf_to_list": "Salesforce campaign → Marketo static list",
    "list_to_sf": "Marketo static list → Salesforce campaign",
    "segment_to_sf": "Marketo segment (clicked an e-mail in 30 days) → Salesforce campaign",
    "smart_list_to_sf": "Marketo smart list (clicked an e-mail in 30 days) → Salesforce campaign",
}
#: Marketo's batch: 300 leads per lookup, list write, status write and list page.
MK_BATCH = 300
MK_LOGIN = 1
#: A program by name, then its channel's statuses.
MK_FIND_PROGRAM = 2
#: A static list by name.
MK_FIND_LIST = 1
MK_WINDOW, MK_PER_WINDOW = 20.0, 100
RATIO_GOAL, IDLE_GOAL, LIMIT_GOAL = 1.05, 2, 1.1
STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]

_RULES = {
    "sf_to_program": """
    from: {connection: sf, campaign: "Webinar"}
    to: {connection: mk, program: "Webinar program", status_map: {Registered: Registered, Attended: Attended}}""",
    "sf_to_list": """
    from: {connection: sf, campaign: "Webinar"}
    to: {connection: mk, list: "Webinar list"}""",
    "list_to_sf": """
    from: {connection: mk, list: "Webinar list"}
    to: {connection: sf, campaign: "Webinar", status: Registered}""",
    "segment_to_sf": """
    from: {connection: mk, segment: {field: last_email_click_at, within: 30d}}
    to: {connection: sf, campaign: "Webinar", status: Registered}""",
    "smart_list_to_sf": """
    from: {connection: mk, list: "Clicked in 30 days"}
    to: {connection: sf, campaign: "Webinar", status: Registered}""",
}


def minimum(rule: str, members: int) -> Minimum:
    """The fewest calls of a first sync of ``members`` people, from 300-lead batches on Marketo's side.

    Marketo → target: login, find, ``members/300`` lookups, ``members/300`` writes (a program: per status,
    half the members each). Marketo as the source: login, find the list, ``members/300`` pages. Salesforce:
    as ``benchmarks.minimum`` (login, find campaign, read or look up and write)."""
    m = Minimum()
    m.add("sf", "login", SF_LOGIN)
    m.add("sf", "find campaign", SF_FIND_CAMPAIGN)
    m.add("mk", "login", MK_LOGIN)
    if rule == "segment_to_sf":
        clicked = int(members * CLICKED_SHARE)
        m.add("mk", "paging token", 1)
        m.add("mk", "click activities in the window", max(1, ceil(clicked / MK_BATCH)))
        m.add("mk", "the clickers by id", ceil(clicked / MK_BATCH))
        m.add("sf", "lookup by email", 2 * ceil(clicked / SF_LOOKUP_BATCH))
        m.add("sf", "add members", sf_write(clicked))
        return m
    if rule == "smart_list_to_sf":
        clicked = int(members * CLICKED_SHARE)
        # A list named by name may be static or smart: both listings are asked by name (one call each).
        m.add("mk", "find list (static, then smart)", 2)
        m.add("mk", "bulk extract (create, enqueue, status, file)", 4)
        m.add("sf", "lookup by email", 2 * ceil(clicked / SF_LOOKUP_BATCH))
        m.add("sf", "add members", sf_write(clicked))
        return m
    if rule == "list_to_sf":
        m.add("mk", "find list", MK_FIND_LIST)
        m.add("mk", "read members", max(1, ceil(members / MK_BATCH)))
        m.add("sf", "lookup by email", 2 * ceil(members / SF_LOOKUP_BATCH))
        m.add("sf", "add members", sf_write(members))
        return m
    m.add("sf", "read members", sf_read(members))
    m.add("mk", "lookup by email", ceil(members / MK_BATCH))
    if rule == "sf_to_program":
        m.add("mk", "find program and channel", MK_FIND_PROGRAM)
        half = members // 2
        m.add("mk", "set statuses", ceil(half / MK_BATCH) + ceil((members - half) / MK_BATCH))
    else:
        m.add("mk", "find list", MK_FIND_LIST)
        m.add("mk", "add members", ceil(members / MK_BATCH))
    return m


def limit_seconds(calls: int) -> float:
    """The time 100 calls per 20 s alone imposes on ``calls`` requests."""
    return max(0, ceil(calls / MK_PER_WINDOW) - 1) * MK_WINDOW


@dataclass
class World:
    host: _Host
    engine: Engine


def _serve(rule: str, members: int, limits: bool, pipe: Connection) -> None:
    """The child process: both sandboxes, seeded for ``rule``; answers ``marketo`` (its counters) and ``stop``."""
    per_window, concurrent = (MK_PER_WINDOW, 10) if limits else (None, None)
    # Seeding is stamped two hours ago (as in benchmarks.sandboxes), so that the idle run's incremental
    # Salesforce read (SystemModstamp >= watermark less the look-back) sees no seeded record again.
    clock = _ShiftedClock(-SEED_AGE)
    sf = SalesforceSandbox(daily_limit=1_000_000, clock=clock).start()
    mk = MarketoSandbox(per_window=per_window, concurrent=concurrent, clock=lambda: clock().timestamp()).start()
    try:
        emails = [f"p{i:06d}@x.example" for i in range(members)]
        contacts = sf.state.bulk_add_contacts(list(emails))
        campaign = sf.state.add_campaign("Webinar", statuses=STATUSES)
        leads = [mk.state.add_lead(e) for e in emails]
        if rule == "list_to_sf":
            mk.state.add_list_members(mk.state.add_list("Webinar list"), leads)
        elif rule in ("segment_to_sf", "smart_list_to_sf"):
            if rule == "smart_list_to_sf":
                mk.state.add_smart_list("Clicked in 30 days", {"activityTypeId": CLICK_EMAIL, "days": 30})
            now, clicked = clock().timestamp() + SEED_AGE.total_seconds(), int(members * CLICKED_SHARE)
            for i, lead in enumerate(leads[: 2 * clicked]):
                days = 1 + i % 29 if i < clicked else 31 + i % 59
                mk.state.log_activity(lead, CLICK_EMAIL, "Newsletter", at=now - days * 86_400)
        else:
            half = members // 2
            sf.state.bulk_add_members(campaign, contacts[:half], "Registered")
            sf.state.bulk_add_members(campaign, contacts[half:-1], "Attended")
            # The last member joins an hour later: an incremental read from the newest stamp (less the
            # look-back) then sees only them, as in a real org where members join over time.
            clock.offset = -SEED_AGE / 2
            sf.state.add_member(campaign, contacts[-1], "Attended")
            mk.state.add_program("Webinar program", channel="Webinar")
            mk.state.add_list("Webinar list")
        clock.offset = SEED_AGE * 0  # the run happens now
        creds = sf.credentials
        pipe.send(
            {
                "sf_url": sf.instance_url,
                "sf_ca": str(sf.ca_bundle),
                "sf_id": creds["client_id"],
                "sf_secret": creds["client_secret"],
                "mk_url": mk.url,
                "mk_id": mk.client_id,
                "mk_secret": mk.client_secret,
            }
        )
        while True:
            command = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            limits_seen = mk.state.limits
            pipe.send(
                {
                    "requests": len(mk.server.log),
                    "api_requests": mk.server.calls(r"^/(rest|bulk)/"),
                    "refused": dict(limits_seen.refused),
                    "peak_in_flight": limits_seen.peak_in_flight,
                }
            )
    finally:
        sf.stop()
        mk.stop()


class _Host:
    """The sandboxes in a child process (``spawn``), so that the numbers measure campaign-bridge and not
    the emulators competing with it for the GIL."""

    def __init__(self, rule: str, members: int, limits: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(rule, members, limits, child), daemon=True)
        self._process.start()
        self.info: dict[str, str] = self._pipe.recv()

    def marketo(self) -> dict[str, Any]:
        self._pipe.send("marketo")
        answer: dict[str, Any] = self._pipe.recv()
        return answer

    def stop(self) -> None:
        try:
            self._pipe.send("stop")
            self._pipe.recv()
        finally:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.terminate()


@contextmanager
def world(rule: str, members: int, *, limits: bool) -> Iterator[World]:
    host = _Host(rule, members, limits)
    info = host.info
    try:
        with tempfile.TemporaryDirectory() as tmp:
            text = f"""
client: bench
state: sqlite:///{Path(tmp) / "state.db"}
connections:
  sf:
    type: salesforce
    instance_url: {info["sf_url"]}
    login_url: {info["sf_url"]}
    ca_bundle: {info["sf_ca"]}
    auth: {{method: client_credentials, client_id: {info["sf_id"]}, client_secret: "${{SF_SECRET}}"}}
  mk:
    type: marketo
    base_url: {info["mk_url"]}
    auth: {{method: client_credentials, client_id: {info["mk_id"]}, client_secret: "${{MK_SECRET}}"}}
rules:
  - name: bench
    mode: mirror
    match: {{create_missing: skip}}
    safety: {{max_removals: 100000000, max_removal_fraction: 1.0}}{_RULES[rule]}
"""
            config = load_config_text(
                text, "bench.yaml", {"SF_SECRET": info["sf_secret"], "MK_SECRET": info["mk_secret"]}
            )
            store = Store(config.state_url)
            connectors = {
                "sf": SalesforceConnector("sf", config.connections["sf"]),
                "mk": MarketoConnector("mk", config.connections["mk"]),
            }
            try:
                yield World(host, Engine(config, store, connectors))
            finally:
                for c in connectors.values():
                    c.close()
                store.close()
    finally:
        host.stop()


def calls(members: int, rules: tuple[str, ...] = CALL_RULES) -> list[dict[str, Any]]:
    """First sync and idle run of each rule: calls per system against the minimum."""
    out = []
    for rule in rules:
        with world(rule, members, limits=False) as w:
            started = time.perf_counter()
            first = w.engine.sync("bench")
            seconds = time.perf_counter() - started
            assert first.status == "ok", first.message
            by_endpoint = dict(w.engine.connectors["mk"].usage().by_endpoint)
            at_sandbox = w.host.marketo()["requests"]
            idle = w.engine.sync("bench")
        least = minimum(rule, members)
        systems = {}
        for key, name in (("sf", "salesforce"), ("mk", "marketo")):
            systems[name] = least.against(key, first.api_calls.get(key, 0), idle.api_calls.get(key, 0))
        systems["marketo"]["sandbox_requests"] = at_sandbox
        systems["marketo"]["by_endpoint"] = by_endpoint
        out.append(
            {"rule": rule, "label": LABELS[rule], "members": members, "seconds": round(seconds, 2), "systems": systems}
        )
    return out


def _stamp_first_record(connector: Any, stamps: list[float]) -> None:
    """Note in ``stamps`` when the rule's source hands over its first member (its first page or chunk)."""

    def stamped(read: Any) -> Any:
        def first_stamped(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for record in read(*args, **kwargs):
                if not stamps:
                    stamps.append(time.perf_counter())
                yield record

        return first_stamped

    connector.read_members = stamped(connector.read_members)
    connector.read_segment = stamped(connector.read_segment)


def _unpaced(rule: str, members: int) -> float:
    """Seconds of a first sync with the sandbox's limits off and the connector's own pacer lifted: what the
    engine, the connectors and the sandboxes take when no limit binds."""
    with world(rule, members, limits=False) as w:
        marketo = w.engine.connectors["mk"]
        assert isinstance(marketo, MarketoConnector)
        marketo.client.pacer = SlidingWindowPacer(10**9, MK_WINDOW, clock=time.monotonic, sleep=time.sleep)
        started = time.perf_counter()
        report = w.engine.sync("bench")
        assert report.status == "ok", report.message
        return time.perf_counter() - started


def limited(members: int, rules: tuple[str, ...] = RULES) -> list[dict[str, Any]]:
    """A first sync of each rule with Marketo's limits on, against the limit's own time, and against the
    same sync with no limit at all (when the engine itself is slower than the limit allows, that binds)."""
    out = []
    for rule in rules:
        free = _unpaced(rule, members)
        with world(rule, members, limits=True) as w:
            first: list[float] = []
            _stamp_first_record(w.engine.connectors["sf" if rule.startswith("sf_") else "mk"], first)
            started = time.perf_counter()
            report = w.engine.sync("bench")
            seconds = time.perf_counter() - started
            assert report.status == "ok", report.message
            seen = w.host.marketo()
            rest, refused, peak = seen["api_requests"], seen["refused"], seen["peak_in_flight"]
        bound = limit_seconds(rest)
        floor = max(bound, free)
        # No Marketo call that needs the source's members can go before the source's first member arrives:
        # the window's time counted from then is the most any pacing could reach.
        source_first = round(first[0] - started, 2) if first else 0.0
        out.append(
            {
                "rule": rule,
                "label": LABELS[rule],
                "members": members,
                "seconds": round(seconds, 2),
                "marketo_calls": rest,
                "limit_seconds": bound,
                "ratio": round(seconds / bound, 3) if bound else None,
                "unpaced_seconds": round(free, 2),
                "ratio_to_floor": round(seconds / floor, 3),
                "source_first_seconds": source_first,
                "ratio_from_source": round(seconds / (source_first + bound), 3) if bound else None,
                "refused": refused,
                "peak_in_flight": peak,
            }
        )
    return out
