"""A HubSpot behaviour segment as a rule's source, through the engine: the campaign gets exactly the
people the segment selects (HubSpot's search, as the connector translates the segment), and loses those
who stop matching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot import HubSpotConnector
from campaign_bridge.connectors.memory.data import drop_memory_store, memory_store
from campaign_bridge.connectors.registry import build_connector
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_hubspot import HubSpotHarness, hubspot_properties

CONFIG = """
client: segment-e2e
connections:
  hs: {{type: hubspot, base_url: "{url}", auth: {{method: private_app, token: "${{HS_TOKEN}}"}}}}
  crm: {{type: memory-crm, store: segment-e2e}}
rules:
  - name: engaged
    from:
      connection: hs
      segment:
        all:
          - {{field: score, gte: 50}}
          - {{not: {{field: hard_bounced, eq: true}}}}
          - any:
              - {{field: last_form_submitted_at, within: 30d}}
              - {{field: lifecycle_stage, in: [customer, opportunity]}}
    to: {{connection: crm, campaign: Engaged, status: Responded}}
    match: {{create_missing: skip}}
    mode: mirror
"""

PEOPLE = {
    "fresh.form@x.com": {"score": 50, "last_form_submitted_at": 29},  # all three hold
    "edge.form@x.com": {"score": 70, "last_form_submitted_at": 30},  # on the window's edge: inside
    "customer@x.com": {"score": 80, "lifecycle_stage": "customer"},
    "low.score@x.com": {"score": 49, "lifecycle_stage": "customer"},  # score below the bound
    "bounced@x.com": {"score": 90, "hard_bounced": True, "lifecycle_stage": "customer"},
    "old.form@x.com": {"score": 60, "last_form_submitted_at": 31},  # outside the window
    "lead.stage@x.com": {"score": 60, "lifecycle_stage": "lead"},  # neither branch of the any
}


@pytest.fixture
def hs() -> Iterator[HubSpotHarness]:
    harness = HubSpotHarness()
    try:
        yield harness
    finally:
        harness.close()


def test_a_hubspot_segment_fills_a_crm_campaign_with_exactly_the_people_it_selects(
    hs: HubSpotHarness,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("HS_TOKEN", hs.sb.token)
    crm = memory_store("segment-e2e")
    try:
        camp = crm.add_container("Engaged", ContainerKind.CAMPAIGN, [("Sent", False), ("Responded", True)])
        now = hs.now()
        hs_ids = {}
        for email, wanted in PEOPLE.items():
            fields = dict(wanted)
            days = fields.pop("last_form_submitted_at", None)
            if days is not None:
                fields["last_form_submitted_at"] = now - timedelta(days=days)
            hs_ids[email] = hs.sb.state.add_contact(email, **hubspot_properties(fields))
            crm.add_person(email, "Contact")
        config = load_config_text(CONFIG.format(url=hs.sb.url), "segment.yaml")
        connectors: dict[str, Connector] = {
            "hs": HubSpotConnector(
                "hs",
                config.connections["hs"],
                now=hs.now,
                monotonic=hs.pace,
                sleep=hs.pace.advance,  # type: ignore[arg-type]
            ),
            "crm": build_connector("crm", config.connections["crm"]),
        }
        store = Store(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            engine = Engine(config, store, connectors, clock=hs.now)
            first = engine.sync("engaged")
            assert first.status == "ok"
            members = {crm.people[pid].email for pid in crm.members(camp)}
            assert members == {"fresh.form@x.com", "edge.form@x.com", "customer@x.com"}

            # The customer's score drops below the bound, and two minutes on the edge's form is older than
            # 30 days: the next run takes both out again.
            hs.sb.state.set_properties(hs_ids["customer@x.com"], **hubspot_properties({"score": 10}))
            hs.tick(120)
            second = engine.sync("engaged")
            assert second.status == "ok"
            assert {crm.people[pid].email for pid in crm.members(camp)} == {"fresh.form@x.com"}
        finally:
            store.close()
    finally:
        drop_memory_store("segment-e2e")
