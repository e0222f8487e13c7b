"""A seeded fault soak of a Salesforce campaign mirrored into a Marketo static list and a Marketo program.

Each scenario moves people in and out of the campaign, then runs the rules while Marketo's sandbox
answers 5xx, drops connections, sends HTML where JSON belongs, enforces its 100-per-20-s window (the
connector must never be refused: 606 is asserted absent), expires the access token (602) and has leads
deleted between runs (members and ledger rows of people Marketo no longer has). Whatever a
faulty run leaves, a clean rerun must converge: the list and the program hold exactly the campaign's
people (a program at each person's mapped status or higher), members a person added by hand are never
removed, and nobody is written twice. Time is a manual clock shared by the sandbox's window and the
connector's pacing and retries, so the soak never sleeps.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.marketo import MarketoConnector
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import CampaignBridgeError
from campaign_bridge.sandbox.hubspot.values import ManualClock
from campaign_bridge.sandbox.marketo import MarketoSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_salesforce import no_wait_policy

PEOPLE = 40
SEEDS = range(12)
STATUSES = [("Invited", False), ("Registered", False), ("Attended", True)]
CONFIG = """\
client: soak
state: sqlite:///{state}
connections:
  sf:
    type: salesforce
    instance_url: {sf_url}
    login_url: {sf_url}
    ca_bundle: {ca}
    auth: {{method: client_credentials, client_id: {sf_id}, client_secret: "${{SF_SECRET}}"}}
  mk:
    type: marketo
    base_url: {mk_url}
    auth: {{method: client_credentials, client_id: {mk_id}, client_secret: "${{MK_SECRET}}"}}
defaults: {{max_attempts: 50}}
rules:
  - name: to-list
    from: {{connection: sf, campaign: Webinar}}
    to: {{connection: mk, list: Nurture}}
    match: {{create_missing: skip}}
    mode: mirror
    safety: {{max_removals: 1000, max_removal_fraction: 1.0}}
  - name: to-program
    from: {{connection: sf, campaign: Webinar}}
    to: {{connection: mk, program: Webinar, status_map: {{Registered: Registered, Attended: Attended}}}}
    match: {{create_missing: skip}}
    mode: mirror
    safety: {{max_removals: 1000, max_removal_fraction: 1.0}}
"""


@dataclass
class Soak:
    sf: SalesforceSandbox
    mk: MarketoSandbox
    pace: ManualClock
    engine: Engine
    contacts: list[str]
    leads: list[int]
    campaign: str
    nurture: int
    program: int


@pytest.fixture
def soak(tmp_path: Path) -> Iterator[Soak]:
    pace = ManualClock(start=1000.0)
    with SalesforceSandbox(daily_limit=1_000_000) as sf, MarketoSandbox(per_window=100, monotonic=pace) as mk:
        emails = [f"s{i:03d}@x.example" for i in range(PEOPLE)]
        contacts = [sf.state.add_contact(e) for e in emails]
        leads = [mk.state.add_lead(e) for e in emails]
        campaign = sf.state.add_campaign("Webinar", statuses=STATUSES)
        nurture = mk.state.add_list("Nurture")
        program = mk.state.add_program("Webinar", channel="Webinar")
        creds = sf.credentials
        text = CONFIG.format(
            state=tmp_path / "state.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_id=creds["client_id"],
            mk_url=mk.url, mk_id=mk.client_id,
        )  # fmt: skip
        config = load_config_text(
            text, "soak.yaml", {"SF_SECRET": creds["client_secret"], "MK_SECRET": mk.client_secret}
        )
        store = Store(config.state_url)
        marketo = MarketoConnector(
            "mk",
            config.connections["mk"],
            policy=CallPolicy(attempts=4, sleep=pace.advance),
            monotonic=pace,
            sleep=pace.advance,
        )
        connectors = {"sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy()), "mk": marketo}
        try:
            yield Soak(sf, mk, pace, Engine(config, store, connectors), contacts, leads, campaign, nurture, program)
        finally:
            for c in connectors.values():
                c.close()
            store.close()


def _mapped(status: str) -> int:
    return {"Registered": 2, "Attended": 3}.get(status, 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_faulty_runs_converge_on_a_clean_rerun(soak: Soak, seed: int) -> None:
    rng = random.Random(seed)
    s = soak
    by_hand = s.leads[-1]  # a person marketing added to the list by hand; never in the campaign
    s.mk.state.add_list_members(s.nurture, [by_hand])
    members: dict[int, str] = {}
    deleted: set[int] = set()
    for _round in range(3):
        # the campaign changes: some join, some leave, some rise
        for i in rng.sample(range(PEOPLE - 1), 8):
            if i in members and rng.random() < 0.4:
                s.sf.state.remove_member(members.pop(i))
            elif i not in members:
                members[i] = s.sf.state.add_member(s.campaign, s.contacts[i], rng.choice(["Invited", "Registered"]))
            else:
                s.sf.state.set_member_status(members[i], "Attended")
        s.mk.server.faults.configure(seed=seed, error_rate=0.15, drop_rate=0.05, garbage_rate=0.05)
        if rng.random() < 0.5:
            s.mk.state.expire_token()
        if rng.random() < 0.5:
            gone = rng.choice([i for i in range(PEOPLE - 1) if s.leads[i] not in deleted])
            s.mk.state.delete_lead(s.leads[gone])
            deleted.add(s.leads[gone])
        for rule in ("to-list", "to-program"):
            with contextlib.suppress(CampaignBridgeError):  # a faulty run may stop; the next one resumes
                s.engine.sync(rule)
            s.pace.advance(rng.uniform(0, 30))
        s.mk.server.faults.configure()
    for rule in ("to-list", "to-program"):
        for _attempt in range(3):
            if s.engine.sync(rule).status == "ok":
                break
        else:
            pytest.fail(f"{rule} did not converge")
    in_campaign = s.sf.state.members(s.campaign)
    wanted = {s.leads[i] for i, contact in enumerate(s.contacts) if contact in in_campaign} - deleted
    assert set(s.mk.state.lists[s.nurture].members) == wanted | {by_hand}
    mapped = {
        s.leads[i]: _mapped(in_campaign[c])
        for i, c in enumerate(s.contacts)
        if c in in_campaign and s.leads[i] not in deleted
    }
    program = s.mk.state.programs[s.program]
    steps = s.mk.state.steps(program)
    assert {lead for lead, step in mapped.items() if step} == set(program.members)
    for lead, member in program.members.items():
        assert steps[member.status.casefold()][0] >= mapped[lead]
    assert s.mk.state.limits.refused.get("606", 0) == 0  # paced below the window, never refused
