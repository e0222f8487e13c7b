"""A real `campaign-bridge sync` process, killed (SIGKILL) or asked to stop (SIGTERM) in mid-apply.

HubSpot list → Salesforce campaign, 450 people: three Collections batches of 200. The Salesforce
emulator itself sends the signal when the process's first membership batch arrives, so the signal
lands at the same point every time, with no sleeping or polling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from campaign_bridge.sandbox.http import Request, Response
from tests.reliability.bench import Bench, WallClock

PEOPLE = 450


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    # The `sync` processes stamp their intents with the wall clock; a real org's clock is the wall clock
    # too (its CampaignMember.CreatedDate is how the next run tells who added a member).
    b = Bench(tmp_path, wall_clock=True)
    yield b
    b.close()


class Signaller:
    """In front of the Salesforce app: sends ``signum`` to ``pid`` on the first CampaignMember insert,
    after the org applied it (SIGKILL: the process never learns the outcome) or before (SIGTERM)."""

    def __init__(self, inner: Any, signum: int) -> None:
        self.inner, self.signum, self.pid, self.sent = inner, signum, 0, False

    def __call__(self, request: Request) -> Response:
        hit = (
            not self.sent
            and self.pid
            and request.method == "POST"
            and request.path.endswith("/composite/sobjects")
            and b'"CampaignMember"' in request.body
        )
        if hit and self.signum == signal.SIGTERM:
            self.sent = True
            os.kill(self.pid, self.signum)
        response: Response = self.inner(request)
        if hit and self.signum == signal.SIGKILL:
            self.sent = True
            os.kill(self.pid, self.signum)
        return response


def _setup(bench: Bench, tmp: Path) -> tuple[Path, str, list[str], str]:
    hs, sf = bench.hs.state, bench.sf.state
    source = hs.add_list("Webinar attendees", "MANUAL")
    ids = hs.bulk_add_contacts([f"p{i}@signals.test" for i in range(PEOPLE)])
    hs.add_list_members(source, ids)
    campaign = sf.add_campaign("Webinar follow-up", statuses=[("Sent", False), ("Responded", True)])
    hand = sf.add_contact("hand@signals.test")
    sf.add_member(campaign, hand)  # added by a person: the rule must never remove it
    config = tmp / "client.yaml"
    config.write_text(
        f"client: signals\nstate: sqlite:///{tmp / 'state.db'}\n"
        + bench.connections_yaml()
        + """rules:
  - name: attendees
    from: {connection: hs, list: Webinar attendees}
    to: {connection: sf, campaign: Webinar follow-up, status: Responded}
    match: {create_missing: lead}
    mode: mirror
    safety: {max_removals: 1000, max_removal_fraction: 1.0}
""",
        encoding="utf-8",
    )
    return config, campaign, ids, source


def _sync(bench: Bench, config: Path, signaller: Signaller | None = None) -> tuple[int, list[dict[str, Any]], str]:
    env = {**os.environ, **bench.environ()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "campaign_bridge.cli", "sync", str(config), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    if signaller is not None:
        signaller.pid = proc.pid
    out, err = proc.communicate(timeout=120)
    reports = json.loads(out) if out.strip() else []
    return proc.returncode, reports, err


def _members(bench: Bench, campaign: str) -> list[str]:
    sf = bench.sf.state
    return sorted((sf.get(pid) or {}).get("Email") or "" for pid in sf.members(campaign))


def _leads_per_email(bench: Bench) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in bench.sf.state.tables["Lead"].values():
        if not rec["IsDeleted"]:
            counts[rec["Email"]] = counts.get(rec["Email"], 0) + 1
    return counts


def test_sigkill_after_the_org_applied_a_batch_then_a_rerun_converges(bench: Bench, tmp_path: Path) -> None:
    config, campaign, ids, source = _setup(bench, tmp_path)
    killer = Signaller(bench.sf.server.app, signal.SIGKILL)
    bench.sf.server.app = killer

    code, reports, _ = _sync(bench, config, killer)
    assert killer.sent
    assert code == -signal.SIGKILL
    assert reports == []
    assert 0 < len(_members(bench, campaign)) - 1 <= 200  # the first batch landed, nothing after it

    code, reports, err = _sync(bench, config)  # no need to wait out the dead worker's lease
    assert code == 0, err
    assert reports[0]["status"] == "ok"
    wanted = sorted([*(f"p{i}@signals.test" for i in range(PEOPLE)), "hand@signals.test"])
    assert _members(bench, campaign) == wanted  # nothing lost, nobody twice
    assert set(_leads_per_email(bench).values()) == {1}  # no person created twice

    # Everyone leaves the source: the rule removes all it added, the killed batch included, and not
    # the hand-added member.
    bench.hs.state.remove_list_members(source, ids)
    code, reports, err = _sync(bench, config)
    assert code == 0, err
    assert _members(bench, campaign) == ["hand@signals.test"]


def test_sigterm_finishes_the_batch_in_flight_then_stops_resumably(bench: Bench, tmp_path: Path) -> None:
    config, campaign, _, _ = _setup(bench, tmp_path)
    stopper = Signaller(bench.sf.server.app, signal.SIGTERM)
    bench.sf.server.app = stopper

    code, reports, err = _sync(bench, config, stopper)
    assert stopper.sent
    assert code == 1, err
    assert "Traceback" not in err
    [report] = reports
    assert report["status"] == "partial"
    assert "stopped on request" in report["message"]
    assert report["counts"]["added"] == 200  # the batch in flight, and no other
    assert len(_members(bench, campaign)) == 201

    code, reports, err = _sync(bench, config)
    assert code == 0, err
    assert reports[0]["status"] == "ok"
    assert reports[0]["counts"]["added"] == PEOPLE - 200
    assert len(_members(bench, campaign)) == PEOPLE + 1


class Refuser:
    """In front of the Salesforce app: answers 503 to every CampaignMember insert, and SIGKILLs ``pid`` on
    the second one, while the connector retries the first batch: the run dies inside its add call, before
    any outcome is recorded and before the org applied anything."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.pid, self.refused, self.sent = inner, 0, 0, False

    def __call__(self, request: Request) -> Response:
        if self.pid and request.method == "POST" and b'"CampaignMember"' in request.body:
            self.refused += 1
            if self.refused == 2 and not self.sent:
                self.sent = True
                os.kill(self.pid, signal.SIGKILL)
            return Response(503, [{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}])
        response: Response = self.inner(request)
        return response


def test_a_hand_added_member_survives_a_sigkill_while_its_add_was_retried(bench: Bench, tmp_path: Path) -> None:
    """Issue 14: a person put in the campaign by hand (a day ago) is also in the source. The first sync's
    first batch, which holds their add, is refused (503) and the process is SIGKILLed while retrying it.
    The next run must find that the person was a member before it tried, so when they leave the source
    the mirror rule leaves them where a person put them."""
    assert isinstance(bench.clock, WallClock)
    bench.clock.offset = -timedelta(days=1)
    config, campaign, ids, source = _setup(bench, tmp_path)
    sf = bench.sf.state
    sf.add_member(campaign, sf.add_contact("p0@signals.test"))  # by hand, a day before any sync
    bench.clock.offset = timedelta(0)
    refuser = Refuser(bench.sf.server.app)
    bench.sf.server.app = refuser

    code, reports, _ = _sync(bench, config, refuser)
    assert refuser.sent
    assert code == -signal.SIGKILL
    assert reports == []
    assert _members(bench, campaign) == ["hand@signals.test", "p0@signals.test"]  # nothing applied
    bench.sf.server.app = refuser.inner

    code, reports, err = _sync(bench, config)
    assert code == 0, err
    assert reports[0]["status"] == "ok"
    assert _members(bench, campaign) == sorted([*(f"p{i}@signals.test" for i in range(PEOPLE)), "hand@signals.test"])

    bench.hs.state.remove_list_members(source, ids)  # everyone leaves the source
    code, reports, err = _sync(bench, config)
    assert code == 0, err
    # The rule removed the 449 it added; both people added by hand stay, the one who was in the source too.
    assert _members(bench, campaign) == ["hand@signals.test", "p0@signals.test"]
    assert reports[0]["counts"]["removed"] == PEOPLE - 1


class ListRefuser:
    """In front of the HubSpot app: answers 503 to every list membership add, and SIGKILLs ``pid`` on the
    second one, while the connector retries the first."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.pid, self.refused, self.sent = inner, 0, 0, False

    def __call__(self, request: Request) -> Response:
        if self.pid and request.method == "PUT" and request.path.endswith("/memberships/add"):
            self.refused += 1
            if self.refused == 2 and not self.sent:
                self.sent = True
                os.kill(self.pid, signal.SIGKILL)
            return Response(503, {"status": "error", "message": "Service Unavailable", "category": "INTERNAL"})
        response: Response = self.inner(request)
        return response


def test_a_hand_added_list_member_survives_a_sigkill_while_its_add_was_retried(bench: Bench, tmp_path: Path) -> None:
    """The same, into a HubSpot list, whose API cannot say when a chosen contact joined: the next run finds
    the member present and, with no evidence the killed run added it, never claims it."""
    sf, hs = bench.sf.state, bench.hs.state
    campaign = sf.add_campaign("Webinar", statuses=[("Sent", False), ("Attended", True)])
    emails = [f"q{i}@signals.test" for i in range(50)]
    sf.bulk_add_members(campaign, sf.bulk_add_contacts(emails))
    hs_ids = hs.bulk_add_contacts(emails)
    nurture = hs.add_list("Nurture", "MANUAL")
    hs.add_list_members(nurture, [hs_ids[0]])  # q0, by hand, before any sync
    config = tmp_path / "client.yaml"
    config.write_text(
        f"client: signals\nstate: sqlite:///{tmp_path / 'state.db'}\n"
        + bench.connections_yaml()
        + """rules:
  - name: nurture
    from: {connection: sf, campaign: Webinar}
    to: {connection: hs, list: Nurture}
    mode: mirror
    safety: {max_removals: 1000, max_removal_fraction: 1.0}
""",
        encoding="utf-8",
    )
    refuser = ListRefuser(bench.hs.server.app)
    bench.hs.server.app = refuser
    code, _, _ = _sync(bench, config, refuser)
    assert refuser.sent
    assert code == -signal.SIGKILL
    bench.hs.server.app = refuser.inner

    code, reports, err = _sync(bench, config)
    assert code == 0, err
    assert hs.list_members(nurture) == set(map(str, hs_ids))

    table = sf.tables["CampaignMember"]
    for member_id in list(sf.lookup("CampaignMember", "CampaignId", campaign)):
        if not table[member_id]["IsDeleted"]:
            sf.remove_member(member_id)  # everyone leaves the source
    code, reports, err = _sync(bench, config)
    assert code == 0, err
    assert hs.list_members(nurture) == {str(hs_ids[0])}
