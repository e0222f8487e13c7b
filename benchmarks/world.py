"""One benchmark world: the seeded sandboxes (in their own process), a client file for the rule, the
real connectors pointed at the sandboxes, a state store, and the engine.

The rules are the two the issue names: ``crm_to_ma`` (a Salesforce campaign mirrored into a HubSpot
list) and ``ma_to_crm`` (a HubSpot list mirrored into a Salesforce campaign with status Responded).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.plan import RunReport
from campaign_bridge.sync.store.store import Store

from .sandboxes import CAMPAIGN, LIST, Endpoints, SandboxHost, Scenario

RULE = "bench"
#: HubSpot pacing when limits are off: high enough never to wait.
UNPACED = 1_000_000
#: Seconds between polls of a Salesforce Bulk API job. The connector's default (2 s) suits a real org,
#: whose jobs take seconds; the sandbox finishes a job at once, and waiting 2 s would measure nothing.
BULK_POLL_SECONDS = 0.05

_RULES = {
    "crm_to_ma": f"""
  - name: {RULE}
    from: {{connection: sf, campaign: "{CAMPAIGN}"}}
    to: {{connection: hs, list: "{LIST}"}}
    mode: mirror
    safety: {{max_removals: 100000000, max_removal_fraction: 1.0}}
""",
    "ma_to_crm": f"""
  - name: {RULE}
    from: {{connection: hs, list: "{LIST}"}}
    to: {{connection: sf, campaign: "{CAMPAIGN}", status: Responded}}
    mode: mirror
    match: {{prefer: contact, create_missing: skip}}
    safety: {{max_removals: 100000000, max_removal_fraction: 1.0}}
""",
}


def client_file(ep: Endpoints, direction: str, hubspot_limit: int | None, state_url: str) -> ClientConfig:
    """The client file of the benchmark rule; secrets come from the (given) environment, as always."""
    per_10s = hubspot_limit or UNPACED
    text = f"""
client: bench
state: {state_url}
connections:
  sf:
    type: salesforce
    instance_url: {ep.sf_url}
    login_url: {ep.sf_url}
    ca_bundle: {ep.sf_ca_bundle}
    api_budget: 100000000
    auth: {{method: client_credentials, client_id: "{ep.sf_client_id}", client_secret: "${{SF_SECRET}}"}}
  hs:
    type: hubspot
    base_url: {ep.hs_url}
    requests_per_10s: {per_10s}
    api_budget: 100000000
    auth: {{method: private_app, token: "${{HS_TOKEN}}"}}
rules:
{_RULES[direction]}
"""
    env = {"SF_SECRET": ep.sf_client_secret, "HS_TOKEN": ep.hs_token}
    return load_config_text(text, "bench.yaml", environ=env)


def connectors(config: ClientConfig) -> dict[str, Connector]:
    sf_settings = config.connections["sf"]
    hs_settings = config.connections["hs"]
    assert isinstance(sf_settings, SalesforceSettings)
    assert isinstance(hs_settings, HubSpotSettings)
    return {
        "sf": SalesforceConnector("sf", sf_settings, bulk_poll_seconds=BULK_POLL_SECONDS),
        "hs": HubSpotConnector("hs", hs_settings),
    }


@dataclass
class World:
    """Sandboxes, store and engine for one scenario. ``sync()`` runs the rule once."""

    scenario: Scenario
    host: SandboxHost
    config: ClientConfig
    store: Store
    connectors: dict[str, Connector]

    @property
    def engine(self) -> Engine:
        return Engine(self.config, self.store, self.connectors)

    def sync(self) -> RunReport:
        report = self.engine.sync(RULE)
        if report.status != "ok":
            raise RuntimeError(f"the benchmark rule ended {report.status}: {report.message}")
        return report

    def calls(self) -> dict[str, int]:
        """Calls made so far by each connector (every HTTP attempt, logins included)."""
        return {name: c.usage().calls for name, c in self.connectors.items()}


@contextmanager
def world(scenario: Scenario, state_dir: Path | None = None) -> Iterator[World]:
    """Start the sandboxes for ``scenario`` and yield a ready world; everything is torn down after."""
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp, SandboxHost(scenario) as host:
        assert host.endpoints is not None
        folder = state_dir or Path(tmp)
        config = client_file(
            host.endpoints, scenario.direction, scenario.hubspot_limit, f"sqlite:///{folder / 'state.db'}"
        )
        store = Store(config.state or "")
        conns = connectors(config)
        try:
            yield World(scenario, host, config, store, conns)
        finally:
            for c in conns.values():
                c.close()
            store.close()
