"""The engine end to end with HubSpot as the target: a Salesforce campaign (its sandbox over HTTPS,
simple-salesforce) feeds a HubSpot list (its sandbox, hubspot-api-client), with the state in SQLite.

HubSpot takes concurrent calls, so a first sync looks people up in two threads while it writes the adds
already looked up from the run's thread; these tests shrink the chunk and write sizes so that a
thousand people make many of each, interleaved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync import pipeline
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_salesforce import no_wait_policy
from tests.e2e.test_salesforce_engine import CONFIG as SF_TARGET_CONFIG

RULE = "webinar-to-hs"
# The connections of the HubSpot → Salesforce tests, and the rule the other way round.
CONFIG = (
    SF_TARGET_CONFIG.partition("rules:")[0]
    + """rules:
  - name: {rule}
    from: {{connection: sf, campaign: "Webinar"}}
    to:   {{connection: hs, list: "Webinar attendees"}}
    match: {{create_missing: skip}}
    mode: mirror
"""
)
PEOPLE = 1000


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 100 (from 20), lookups of 100, writes of 100: ten of each for a thousand people."""
    monkeypatch.setattr(pipeline, "CHUNK", 100)
    monkeypatch.setattr(pipeline, "FIRST_CHUNK", 20)
    monkeypatch.setattr(pipeline, "EAGER_WRITE", 100)
    monkeypatch.setattr(HubSpotConnector, "write_batch_size", 100)


@dataclass
class World:
    """Both sandboxes, a Salesforce campaign of ``PEOPLE`` contacts who are also HubSpot contacts, an
    empty MANUAL list, and the engine with its store."""

    sf: SalesforceSandbox
    hs: HubSpotSandbox
    hot: str
    hs_ids: list[str]
    engine: Engine
    store: Store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SalesforceSandbox(daily_limit=100_000) as sf, HubSpotSandbox() as hs:
        emails = [f"p{i:04d}@x.example" for i in range(PEOPLE)]
        campaign = sf.state.add_campaign("Webinar", statuses=[("Sent", False), ("Attended", True)])
        sf.state.bulk_add_members(campaign, sf.state.bulk_add_contacts(list(emails)))
        hs_ids = hs.state.bulk_add_contacts(emails)
        hot = hs.state.add_list("Webinar attendees", "MANUAL")
        engine, store = _engine(sf, hs, tmp_path)
        try:
            yield World(sf, hs, hot, hs_ids, engine, store)
        finally:
            for connector in engine.connectors.values():
                connector.close()
            store.close()


def _engine(sf: SalesforceSandbox, hs: HubSpotSandbox, tmp_path: Path) -> tuple[Engine, Store]:
    creds = sf.credentials
    text = CONFIG.format(
        state=tmp_path / "state.db", sf_url=sf.instance_url, ca=sf.ca_bundle, client_id=creds["client_id"],
        hs_url=hs.url, rule=RULE, bulk_threshold="auto",
    )  # fmt: skip
    config = load_config_text(text, "e2e.yaml", {"SF_SECRET": creds["client_secret"], "HS_TOKEN": hs.token})
    store = Store(config.state_url)
    hub = HubSpotConnector("hs", HubSpotSettings(base_url=hs.url, auth={"method": "private_app", "token": hs.token}))
    connectors = {"sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy()), "hs": hub}
    return Engine(config, store, connectors), store


def test_a_first_sync_writes_while_two_threads_look_people_up_and_each_person_is_added_once(
    world: World, small_steps: None
) -> None:
    first = world.engine.sync(RULE)
    assert first.status == "ok"
    assert first.counts.get("added") == PEOPLE
    assert sorted(world.hs.state.list_members(world.hot), key=int) == sorted(world.hs_ids, key=int)
    ledger = world.store.ledger(RULE)
    assert len(ledger) == PEOPLE
    assert {(row.state, row.owned) for row in ledger.values()} == {("present", True)}
    # One list search, ten batch reads of 100 emails, ten writes of 100 ids: nothing looked up or
    # written twice, although lookups and writes ran at once.
    assert first.api_calls["hs"] == 1 + PEOPLE // 100 + PEOPLE // 100

    idle = world.engine.sync(RULE)
    assert idle.status == "ok"
    assert idle.counts.get("added", 0) == 0
    assert idle.api_calls.get("hs", 0) == 1


def test_a_stop_while_writes_are_under_way_records_them_and_the_next_run_adds_the_rest_once(
    world: World, small_steps: None
) -> None:
    engine, store = world.engine, world.store
    applied: list[int] = []
    engine.progress = lambda stage, done, total: applied.append(done) if stage == "apply" else None
    engine.should_stop = lambda: bool(applied) and applied[-1] >= 300  # SIGTERM once 300 are written
    first = engine.sync(RULE)
    assert first.status == "partial"
    assert "while reading" in first.message
    in_list = len(world.hs.state.list_members(world.hot))
    # What the writer thread sent before the stop is in the list and recorded as present.
    assert 300 <= in_list < PEOPLE
    assert sum(1 for row in store.ledger(RULE).values() if row.state == "present") == in_list

    engine.should_stop = lambda: False
    second = engine.sync(RULE)
    assert second.status == "ok"
    assert len(world.hs.state.list_members(world.hot)) == PEOPLE
    assert second.counts.get("added") == PEOPLE - in_list  # each person written once
