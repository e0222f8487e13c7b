"""Seeded faults on the Account Engagement side of a Salesforce → Pardot mirror rule: 5xx answers, HTML
garbage, dropped connections, 429s, an expired token mid-run and a daily allotment spent mid-run. Whatever
a run meets, it ends with a clear status, reruns converge to exactly the desired list with each prospect
once, nothing is ever removed that the rule did not add, and no secret reaches a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_bridge.connectors.pardot import PardotConnector
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.sandbox.pardot import PardotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.contract.harness_salesforce import no_wait_policy
from tests.e2e.test_pardot_rules import CONFIG

PEOPLE = 60
FAULTS = {
    "errors": {"error_rate": 0.15},
    "garbage": {"garbage_rate": 0.1},
    "drops": {"drop_rate": 0.1},
    "429s": {"error_rate": 0.15, "error_status": 429},
}


def _run(
    tmp_path: Path, seed: int, faults: dict[str, object], *, expire: bool = False, daily: int | None = None
) -> None:
    from campaign_bridge.config.loader import load_config_text

    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        webinar = sf.state.add_campaign("Webinar", statuses=[("Registered", False), ("Attended", True)])
        for name in ("Pricing", "Engaged 2026"):
            sf.state.add_campaign(name)
        emails = [f"p{i:03d}@x.example" for i in range(PEOPLE)]
        contacts = sf.state.bulk_add_contacts(list(emails))
        sf.state.bulk_add_members(webinar, contacts[: PEOPLE - 10], "Attended")
        for name in ("Webinar 2026", "Pricing 2026", "Unassigned"):
            pd.state.add_campaign(name)
        nurture = pd.state.add_list("Webinar nurture")
        prospects = dict(zip(emails, pd.state.bulk_add_prospects(emails), strict=True))
        by_hand = prospects[emails[-1]]  # someone marketing added by hand: never removed
        pd.state.add_member(nurture, by_hand)
        text = CONFIG.format(
            state=tmp_path / f"s{seed}.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_client=sf.credentials["client_id"],
            bu=pd.business_unit_id, pd_url=pd.url, pd_client=pd.org.credentials.client_id, pricing_policy="keep_first",
        )  # fmt: skip
        secret = pd.org.credentials.client_secret
        config = load_config_text(
            text, "soak.yaml", {"SF_SECRET": sf.credentials["client_secret"], "PD_SECRET": secret}
        )
        store = Store(config.state_url)
        try:
            pd.server.faults.configure(seed=seed, path_pattern="^/api/v5/", **faults)  # type: ignore[arg-type]
            if daily is not None:
                with pd.state.lock:
                    pd.state.limits, pd.state.daily_limit = True, daily
            messages = []
            for attempt in range(12):
                connectors = {
                    "sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy()),
                    "pd": PardotConnector("pd", config.connections["pd"], policy=no_wait_policy()),
                }
                engine = Engine(config, store, connectors)
                if expire and attempt == 0:
                    engine.progress = lambda stage, done, total: pd.org.expire_sessions() if done == 10 else None
                report = engine.sync("webinar-to-list", full=True)
                messages.append(report.message or "")
                for connector in connectors.values():
                    connector.close()
                if daily is not None:
                    pd.state.new_day()  # the next run is the next day
                if attempt == 1:
                    pd.server.faults.configure()  # the weather clears: the later runs see no faults
                if (
                    attempt >= 2
                    and report.status == "ok"
                    and not report.counts.get("added")
                    and not report.counts.get("failed")
                ):
                    break
            wanted = {prospects[e] for e in emails[: PEOPLE - 10]} | {by_hand}
            members = [m.prospect_id for m in pd.state.members(nurture)]
            assert sorted(members) == sorted(wanted)
            assert all(secret not in m for m in messages)
        finally:
            store.close()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_faults_on_the_pardot_side_end_in_exactly_the_desired_list(tmp_path: Path, kind: str, seed: int) -> None:
    _run(tmp_path, seed, FAULTS[kind])


def test_a_token_expiring_mid_run_is_renewed_and_the_run_converges(tmp_path: Path) -> None:
    _run(tmp_path, 0, {}, expire=True)


def test_a_daily_allotment_spent_mid_run_stops_it_and_later_days_finish_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 10 against 25 calls a day: each day records some batches, and a later day the rest.
    monkeypatch.setattr(PardotConnector, "write_batch_size", 10)
    _run(tmp_path, 0, {}, daily=25)
