"""The engine end to end with Salesforce as the target: a HubSpot list (its sandbox, hubspot-api-client) feeds a
Salesforce campaign (its sandbox over HTTPS, simple-salesforce), with the state in SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.connectors.salesforce.settings import DEFAULT_BULK_THRESHOLD
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync import pipeline
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.states import LedgerState
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_salesforce import no_wait_policy

RULE = "hot-leads-to-sf"
CONFIG = """\
client: e2e
state: sqlite:///{state}
connections:
  sf:
    type: salesforce
    instance_url: {sf_url}
    login_url: {sf_url}
    ca_bundle: {ca}
    bulk_threshold: {bulk_threshold}
    auth: {{method: client_credentials, client_id: {client_id}, client_secret: "${{SF_SECRET}}"}}
  hs:
    type: hubspot
    base_url: {hs_url}
    auth: {{method: private_app, token: "${{HS_TOKEN}}"}}
rules:
  - name: {rule}
    from: {{connection: hs, list: "Hot leads"}}
    to:   {{connection: sf, campaign: "Nurture 2026", status: Responded}}
    match: {{prefer: contact, create_missing: skip}}
    mode: mirror
"""


@dataclass
class World:
    sf: SalesforceSandbox
    hs: HubSpotSandbox
    config: ClientConfig
    store: Store
    campaign: str
    hot_list: str
    on_progress: list[Callable[[str, int, int], None]] = field(default_factory=list)
    connectors: dict[str, Connector] = field(default_factory=dict)
    engine: Engine | None = None

    def start_process(self) -> None:
        """New connectors and engine, as each ``campaign-bridge sync`` process has."""
        self.close()
        self.connectors = {
            "sf": SalesforceConnector(
                "sf", self.config.connections["sf"], policy=no_wait_policy(), bulk_poll_seconds=0
            ),
            "hs": HubSpotConnector(
                "hs", HubSpotSettings(base_url=self.hs.url, auth={"method": "private_app", "token": self.hs.token})
            ),
        }
        self.engine = Engine(self.config, self.store, self.connectors, progress=self._progress)

    def _progress(self, stage: str, done: int, total: int) -> None:
        for hook in self.on_progress:
            hook(stage, done, total)

    def close(self) -> None:
        for c in self.connectors.values():
            c.close()

    def run(self) -> RunReport:
        assert self.engine is not None
        return self.engine.sync(RULE)

    def members(self) -> dict[str, str]:
        """``{email: status}`` of the Salesforce campaign."""
        out = {}
        for person, status in self.sf.state.members(self.campaign).items():
            record = self.sf.state.get(person)
            assert record is not None
            out[record["Email"]] = status
        return out

    def people(self, emails: list[str]) -> list[str]:
        """Contacts in both systems; returns their HubSpot ids."""
        self.sf.state.bulk_add_contacts(list(emails))
        return self.hs.state.bulk_add_contacts(emails)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with running_world(tmp_path, DEFAULT_BULK_THRESHOLD) as w:
        yield w


@contextmanager
def running_world(tmp_path: Path, bulk_threshold: int | str) -> Iterator[World]:
    with SalesforceSandbox(daily_limit=100_000) as sf, HubSpotSandbox() as hs:
        creds = sf.credentials
        text = CONFIG.format(
            state=tmp_path / "state.db",
            sf_url=sf.instance_url,
            ca=sf.ca_bundle,
            client_id=creds["client_id"],
            hs_url=hs.url,
            rule=RULE,
            bulk_threshold=bulk_threshold,
        )
        config = load_config_text(text, "e2e.yaml", {"SF_SECRET": creds["client_secret"], "HS_TOKEN": hs.token})
        store = Store(config.state_url)
        campaign = sf.state.add_campaign("Nurture 2026", statuses=[("Sent", False), ("Responded", True)])
        w = World(sf, hs, config, store, campaign, hs.state.add_list("Hot leads", "MANUAL"))
        w.start_process()
        try:
            yield w
        finally:
            w.close()
            store.close()


def test_mirror_rule_leaves_members_added_by_hand_alone(world: World) -> None:
    a, b, c = world.people(["a@x.example", "b@x.example", "c@x.example"])
    [z] = world.sf.state.bulk_add_contacts(["z@x.example"])
    world.sf.state.add_member(world.campaign, z, "Sent")  # sales added Z by hand
    b_contact = next(i for i, r in world.sf.state.tables["Contact"].items() if r["Email"] == "b@x.example")
    world.sf.state.add_member(world.campaign, b_contact, "Sent")  # …and B, who is also in the list
    world.hs.state.add_list_members(world.hot_list, [a, b, c])

    first = world.run()
    assert first.status == "ok"
    assert world.members() == {
        "a@x.example": "Responded",
        "b@x.example": "Responded",  # already there: its status moves forward, never back
        "c@x.example": "Responded",
        "z@x.example": "Sent",
    }

    world.hs.state.remove_list_members(world.hot_list, [a, b])
    second = world.run()
    assert second.status == "ok"
    assert second.counts.get("removed") == 1
    # A left because this rule added A; B and Z stay because people put them there.
    assert world.members() == {"b@x.example": "Responded", "c@x.example": "Responded", "z@x.example": "Sent"}


def test_daily_limit_stops_the_run_cleanly_and_the_next_day_resumes(world: World) -> None:
    emails = [f"p{i:03d}@x.example" for i in range(250)]
    world.hs.state.add_list_members(world.hot_list, world.people(emails))
    org = world.sf.state

    def other_integration_spends_the_rest(stage: str, done: int, total: int) -> None:
        if stage == "apply" and done == 200:  # after the first Collections call of 200
            with org.lock:
                org.api_usage = org.daily_limit or 0

    world.on_progress.append(other_integration_spends_the_rest)
    stopped = world.run()
    assert stopped.status == "stopped"
    assert "daily API limit" in stopped.message
    assert stopped.counts.get("added") == 200
    assert len(world.members()) == 200
    # What reached Salesforce is recorded as this rule's; what did not is not recorded as present.
    ledger = world.store.ledger(RULE)
    present = {k for k, row in ledger.items() if row.state == "present"}
    assert len(present) == 200
    assert all(ledger[k].owned for k in present)
    assert world.store.watermark(RULE)[0] is None  # the run did not finish: nothing to resume from but the source

    world.on_progress.clear()
    org.reset_usage()  # a new day, and the next scheduled `campaign-bridge sync`
    world.start_process()
    resumed = world.run()
    assert resumed.status == "ok", resumed.message
    assert resumed.counts.get("added") == 50
    assert world.members() == dict.fromkeys(emails, "Responded")

    idle = world.run()
    assert idle.status == "ok"
    assert (len(idle.adds), len(idle.removals), len(idle.status_changes)) == (0, 0, 0)


INGEST_JOBS = r"/jobs/ingest/?$"  # POST: one ingest job created
COLLECTIONS = r"/composite/sobjects"


def test_a_plan_above_the_bulk_threshold_is_written_by_ingest_jobs_with_per_member_outcomes(tmp_path: Path) -> None:
    with running_world(tmp_path, bulk_threshold=50) as world:
        log = world.sf.server
        first = [f"s{i:02d}@x.example" for i in range(30)]
        first_ids = world.people(first)
        world.hs.state.add_list_members(world.hot_list, first_ids)
        log.reset_log()
        small = world.run()
        assert small.status == "ok", small.message
        assert small.counts.get("added") == 30
        assert (log.calls(COLLECTIONS), log.calls(INGEST_JOBS, "POST")) == (1, 0)  # 30 ≤ 50: one Collections call

        # s00 leaves the list, then its contact is deleted in Salesforce: the crosswalk still names it.
        gone = first_ids[:1]
        world.hs.state.remove_list_members(world.hot_list, gone)
        assert world.run().counts.get("removed") == 1
        gone_contact = next(i for i, r in world.sf.state.tables["Contact"].items() if r["Email"] == "s00@x.example")
        world.sf.state.delete(gone_contact)

        # 251 adds: more than the threshold and than one Collections call (200), so a single chunk.
        more = [f"b{i:03d}@x.example" for i in range(250)]
        world.hs.state.add_list_members(world.hot_list, [*gone, *world.people(more)])
        world.start_process()
        log.reset_log()
        large = world.run()
        assert large.status == "ok", large.message
        assert large.counts.get("added") == 250
        assert large.counts.get("rejected") == 1
        assert (log.calls(COLLECTIONS), log.calls(INGEST_JOBS, "POST")) == (0, 1)  # one insert job, no Collections call
        assert world.members() == dict.fromkeys([*first[1:], *more], "Responded")
        ledger = world.store.ledger(RULE)
        refused = [row for row in ledger.values() if row.state == "rejected"]
        assert [row.target_record_id for row in refused] == [gone_contact]
        assert "ENTITY_IS_DELETED" in (refused[0].last_error or "")  # the reason, as Salesforce gave it
        assert sum(row.state == "present" and row.owned for row in ledger.values()) == 29 + 250

        log.reset_log()
        idle = world.run()
        assert idle.status == "ok", idle.message
        assert (len(idle.adds), len(idle.removals), len(idle.status_changes)) == (0, 0, 0)
        assert (log.calls(COLLECTIONS), log.calls(INGEST_JOBS, "POST")) == (0, 0)


class HundredPerChunk(SalesforceConnector):
    bulk_batch_size = 100


def test_a_bulk_write_goes_chunk_by_chunk_and_a_stop_between_chunks_resumes(tmp_path: Path) -> None:
    with running_world(tmp_path, bulk_threshold=50) as world:
        emails = [f"c{i:03d}@x.example" for i in range(250)]
        world.hs.state.add_list_members(world.hot_list, world.people(emails))
        world.connectors["sf"] = HundredPerChunk(
            "sf", world.config.connections["sf"], policy=no_wait_policy(), bulk_poll_seconds=0
        )
        chunks: list[int] = []
        world.on_progress.append(lambda stage, done, total: chunks.append(done) if stage == "apply" else None)
        engine = Engine(world.config, world.store, world.connectors, progress=world._progress)
        engine.should_stop = lambda: len(chunks) == 2  # asked before each chunk
        log = world.sf.server
        log.reset_log()
        stopped = engine.sync(RULE)
        assert stopped.status == "partial"
        assert "stopped on request" in stopped.message
        assert chunks == [100, 200]
        assert log.calls(INGEST_JOBS, "POST") == 2
        assert len(world.members()) == 200
        ledger = world.store.ledger(RULE)
        assert sum(row.state == "present" for row in ledger.values()) == 200

        world.start_process()  # the next run: 50 left, at the threshold, so one Collections call
        log.reset_log()
        resumed = world.run()
        assert resumed.status == "ok", resumed.message
        assert resumed.counts.get("added") == 50
        assert (log.calls(COLLECTIONS), log.calls(INGEST_JOBS, "POST")) == (1, 0)
        assert world.members() == dict.fromkeys(emails, "Responded")


def test_an_unchanged_hubspot_list_is_not_read_again_until_its_members_change(world: World) -> None:
    a, b = world.people(["a@x.example", "b@x.example"])
    world.hs.state.add_list_members(world.hot_list, [a, b])
    first = world.run()
    assert first.status == "ok"
    assert first.read == 2

    world.start_process()
    idle = world.run()
    # The list search that finds the list says its size and last add/remove times have not moved.
    assert idle.status == "ok"
    assert idle.read == 0
    assert idle.api_calls.get("hs") == 1
    assert "not changed" in idle.message

    world.hs.state.remove_list_members(world.hot_list, [b])
    changed = world.run()
    assert changed.read == 1
    assert changed.counts.get("removed") == 1
    assert world.members() == {"a@x.example": "Responded"}


def test_a_write_left_to_retry_makes_the_next_run_read_the_unchanged_list(world: World) -> None:
    (a,) = world.people(["a@x.example"])
    world.hs.state.add_list_members(world.hot_list, [a])
    assert world.run().status == "ok"
    [row] = world.store.ledger(RULE).values()
    world.store.write_ledger([row._replace(state=LedgerState.FAILED, attempts=1)])

    again = world.run()
    assert again.read == 1  # a person to retry: the list is read, though its version has not moved
    assert again.status == "ok"
    assert [r.state for r in world.store.ledger(RULE).values()] == ["present"]


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 100 (from 20), eager writes and Bulk jobs of 200: many of each for a thousand people."""
    monkeypatch.setattr(pipeline, "CHUNK", 100)
    monkeypatch.setattr(pipeline, "FIRST_CHUNK", 20)
    monkeypatch.setattr(pipeline, "EAGER_WRITE", 200)
    monkeypatch.setattr(pipeline, "EAGER_BULK", 200)


def test_a_first_sync_writes_while_it_reads_and_a_stop_mid_read_resumes(world: World, small_steps: None) -> None:
    ids = world.people([f"p{i:04d}@x.example" for i in range(1000)])
    world.hs.state.add_list_members(world.hot_list, ids)
    applied: list[int] = []
    world.on_progress.append(lambda stage, done, total: applied.append(done) if stage == "apply" else None)
    assert world.engine is not None
    world.engine.should_stop = lambda: sum(applied) >= 400  # SIGTERM after two eager writes

    first = world.run()
    # Nothing can be held on a first sync (the rule owns nobody), so adds went out between reads.
    assert first.status == "partial"
    assert "while reading" in first.message
    after_first = len(world.members())
    assert 400 <= after_first < 1000
    assert first.read < 1000

    world.start_process()
    second = world.run()
    assert second.status == "ok"
    assert len(world.members()) == 1000
    assert second.counts.get("added") == 1000 - after_first  # each person written once


def test_a_first_sync_looks_people_up_in_two_threads_while_ingest_jobs_write_and_adds_each_person_once(
    tmp_path: Path, small_steps: None
) -> None:
    # Salesforce takes concurrent calls: lookups go two at a time while the writer thread runs ingest
    # jobs, interleaved.
    with running_world(tmp_path, bulk_threshold=50) as world:
        emails = [f"p{i:04d}@x.example" for i in range(1000)]
        world.hs.state.add_list_members(world.hot_list, world.people(emails))
        log = world.sf.server
        log.reset_log()

        first = world.run()

        assert first.status == "ok", first.message
        assert first.counts.get("added") == 1000  # none refused as a duplicate: nobody was sent twice
        assert world.members() == dict.fromkeys(emails, "Responded")
        ledger = world.store.ledger(RULE)
        assert {(row.state, row.owned) for row in ledger.values()} == {("present", True)}
        assert log.calls(INGEST_JOBS, "POST") >= 2  # written in several jobs while the read went on
        assert log.calls(r"/services/oauth2/token") == 1  # one login, shared by the threads
