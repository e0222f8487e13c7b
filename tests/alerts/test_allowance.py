"""The API allowance alert, raised by a real scheduled run whose target is the HubSpot sandbox (reached over
HTTP by hubspot-api-client), after another integration spent most of the portal's daily allowance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.service import Service
from tests.alerts.conftest import alerts_section, assert_received_cleanly
from tests.alerts.receivers import Webhook
from tests.service.helpers import FakeClock, at

DAILY = 200
CLIENT = """\
client: acme
state: "sqlite:///{state}"
connections:
  crm: {{type: memory-crm, store: allowance-crm, path: "{crm}"}}
  hs: {{type: hubspot, base_url: "{hs}", auth: {{method: private_app, token: "${{HS_TOKEN}}"}}}}
rules:
  - name: webinar
    from: {{connection: crm, campaign: Webinar}}
    to: {{connection: hs, list: Nurture}}
    match: {{create_missing: skip}}
    schedule: {{every: 1m}}
"""


@pytest.fixture
def portal() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(daily_limit=DAILY, search_per_second=None) as hs:
        yield hs


def _spend(portal: HubSpotSandbox, calls: int) -> None:
    """Another integration of the portal spends ``calls`` of its daily allowance."""
    with requests.Session() as other:
        for _ in range(calls):
            answer = other.get(
                f"{portal.url}/crm/v3/objects/contacts",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {portal.token}"},
            )
            assert answer.status_code == 200


@pytest.mark.usefixtures("alert_env")
def test_a_connection_over_its_allowance_share_is_told_once_and_resolved_the_next_day(
    tmp_path: Path, portal: HubSpotSandbox, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TOKEN", portal.token)
    crm = MemoryData(tmp_path / "crm.json")
    campaign = crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False)])
    emails = [f"p{i}@example.com" for i in range(3)]
    for email in emails:
        crm.add_member(campaign, crm.add_person(email, "Contact"))
        portal.state.add_contact(email)
    portal.state.add_list("Nurture", "MANUAL")
    path = tmp_path / "acme.yaml"
    path.write_text(
        CLIENT.format(state=tmp_path / "state.db", crm=tmp_path / "crm.json", hs=portal.url)
        + alerts_section(hook, api_allowance="80%")
    )
    clock = FakeClock(at("00:00:30"))
    service = Service([str(path)], clock=clock, reconcile_cron=None)
    service.start(paused=True)
    try:
        service.run_due(clock.set(at("00:01:00")))
        assert hook.requests == []  # a few calls of 200: nothing to tell

        _spend(portal, 165)
        service.run_due(clock.set(at("00:02:00")))
        service.run_due(clock.set(at("00:03:00")))  # still over: not told again
        [over] = [r.json for r in hook.requests]
        assert over["title"] == "campaign-bridge: API allowance running out (acme / hs)"
        assert "client: acme\nconnection: hs\n" in over["message"]
        assert f"of its {DAILY} daily API calls" in over["message"]
        assert "over the alert's 80%; seen by a run of rule 'webinar'" in over["message"]

        portal.state.limits.reset()  # a new day at the portal
        service.run_due(clock.set(at("00:04:00")))
        assert [r.json["type"] for r in hook.requests] == ["warning", "success"]
        assert "is back under 80% of its daily API calls" in hook.requests[1].json["message"]
    finally:
        service.stop()
        drop_memory_store("allowance-crm")
    assert {r["status"] for r in _runs(tmp_path)} == {"ok"}
    assert_received_cleanly(hook)
    for request in hook.requests:
        assert portal.token not in request.raw()


def _runs(tmp_path: Path) -> list[dict[str, object]]:
    from campaign_bridge.sync.store.store import Store

    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        return store.runs(limit=100)
    finally:
        store.close()
