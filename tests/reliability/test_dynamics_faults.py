"""Dynamics under faults, seeded: 503s, 429s without a ``Retry-After``, HTML instead of JSON, connections cut,
tokens expiring between runs, and records deleted between lookup and write (refused alone in a ``$batch``).
Whatever a run meets, reruns converge on exactly the rule's membership: everyone once, one campaign response
per person, nothing added twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_bridge.sandbox.dynamics import DynamicsSandbox
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.store.store import Store
from tests.e2e.test_dynamics_rules import _connectors, load

PEOPLE = 240
MAX_RUNS = 25
SOAK_RULES = """\
  - name: audience-to-d365
    from: {connection: hs, list: "Soak audience"}
    to:   {connection: d365, campaign: "Pricing 2026", list: "Soak list", create_list: true, status: Interested}
    match: {prefer: contact, create_missing: skip}
    mode: mirror
"""


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_reruns_converge_under_dynamics_faults_in_both_directions(seed: int, tmp_path: Path) -> None:
    with DynamicsSandbox() as d, HubSpotSandbox() as hs:
        emails = [f"p{i:03d}@soak.example" for i in range(PEOPLE)]
        contacts = [d.state.add_contact(e) for e in emails]
        webinar = d.state.add_campaign("Webinar 2026")
        pricing = d.state.add_campaign("Pricing 2026")
        registrants = d.state.add_list("Webinar registrants", "contact", campaign=webinar)
        for rid in contacts[: PEOPLE // 2]:
            d.state.add_member(registrants, rid)
        hs_ids = hs.state.bulk_add_contacts(emails)
        target = hs.state.add_list("Webinar audience", "MANUAL")
        source = hs.state.add_list("Soak audience", "MANUAL")
        hs.state.add_list_members(source, hs_ids[PEOPLE // 4 :])
        gone = contacts[-3:]  # deleted in Dynamics after the first lookups: refused alone, never retried forever

        config = load(d, hs, tmp_path, SOAK_RULES)
        store = Store(config.state_url)
        engine = Engine(config, store, _connectors(config, hs))
        # Entra ID's failures are msal's to hold (it answers a 5xx again for 5 s, longer than this test's
        # retries wait): they are tested on their own in tests/connectors/test_dynamics_connector.py.
        d.server.faults.configure(
            seed=seed, error_rate=0.08, error_status=503, garbage_rate=0.04, drop_rate=0.04, path_pattern="^/api/data/"
        )
        try:
            statuses: dict[str, list[str]] = {"webinar-to-hs": [], "audience-to-d365": []}
            for run in range(MAX_RUNS):
                if run == 1:
                    for rid in gone:
                        d.state.delete("contact", rid)
                if run % 3 == 2:
                    d.state.expire_tokens()
                    d.server.faults.queue("error", 1)  # and a 503 right after the renewal
                for rule in statuses:
                    statuses[rule].append(engine.sync(rule).status)
                if all(s[-1] == "ok" for s in statuses.values()) and run >= 2:
                    break
            assert sum(d.server.faults.injected.values()) > 0, "the seed injected no fault"
            d.server.faults.configure()
            for rule in statuses:
                assert engine.sync(rule).status == "ok", statuses

            in_hs = {hs.state.get_contact(m)["email"] for m in hs.state.list_members(target)}
            assert in_hs == set(emails[: PEOPLE // 2])
            (soak,) = d.state.lists_of(pricing)  # created once
            wanted = set(contacts[PEOPLE // 4 :]) - set(gone)
            members = d.state.static_members(soak["listid"])
            assert sorted(members) == sorted(wanted)  # each once
            responses = [
                party
                for rid, parties in d.state.parties.items()
                if d.state.table("campaignresponse")[rid]["_regardingobjectid_value"] == pricing
                for party, _, _ in parties
            ]
            assert sorted(responses) == sorted(wanted)  # one response per person, none twice
        finally:
            for c in engine.connectors.values():
                c.close()
            store.close()
