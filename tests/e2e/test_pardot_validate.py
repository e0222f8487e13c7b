"""``validate``'s live checks with Account Engagement: a rule writing a connected campaign writes its
Salesforce campaign too (Pardot's own connector copies the membership), so a rule reading that Salesforce
campaign into the Pardot campaign is a loop; and a dynamic list is refused as a target with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.pardot import PardotConnector
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.errors import Problem
from campaign_bridge.sandbox.pardot import PardotSandbox
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from campaign_bridge.sync.live import live_problems
from tests.contract.harness_salesforce import no_wait_policy
from tests.e2e.test_pardot_rules import CONFIG

WEBINAR_TO = """\
  - name: webinar-to-pd
    from: {{connection: sf, campaign: "Webinar"}}
    to:   {{connection: pd, {target}}}
"""
NURTURE_TO_CAMPAIGN = """\
  - name: nurture-to-campaign
    from: {connection: pd, list: "Nurture"}
    to:   {connection: pd, campaign: "Webinar 2026"}
"""


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # Writing the campaign connected to the source campaign: the rule feeds its own source.
        (WEBINAR_TO.format(target='campaign: "Webinar 2026"'), "'webinar-to-pd' reads and writes the same container"),
        # Through a list: Webinar → Nurture → Webinar 2026, which Pardot copies back into Webinar.
        (WEBINAR_TO.format(target='list: "Nurture"') + NURTURE_TO_CAMPAIGN, "rule cycle: "),
        # An unconnected campaign is no loop.
        (WEBINAR_TO.format(target='campaign: "Pricing 2026"'), None),
        # A dynamic list is refused with the reason and what to target instead.
        (WEBINAR_TO.format(target='list: "Hot prospects"'), "dynamic list (its members follow its criteria"),
    ],
)
def test_a_connected_campaign_is_its_salesforce_campaign_in_the_loop_check(
    tmp_path: Path, rules: str, expected: str | None
) -> None:
    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        webinar = sf.state.add_campaign("Webinar", statuses=[("Registered", False), ("Attended", True)])
        pd.state.add_campaign("Webinar 2026", salesforce_id=webinar)
        pd.state.add_campaign("Pricing 2026")
        pd.state.add_list("Hot prospects", rule=lambda p: p.score >= 100)
        pd.state.add_list("Nurture")
        head = CONFIG.partition("rules:")[0] + "rules:\n"
        text = head.format(
            state=tmp_path / "s.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_client=sf.credentials["client_id"],
            bu=pd.business_unit_id, pd_url=pd.url, pd_client=pd.org.credentials.client_id, pricing_policy="keep_first",
        ) + rules  # fmt: skip
        env = {"SF_SECRET": sf.credentials["client_secret"], "PD_SECRET": pd.org.credentials.client_secret}
        config = load_config_text(text, "v.yaml", env)
        connectors = {
            "sf": SalesforceConnector("sf", config.connections["sf"], policy=no_wait_policy()),
            "pd": PardotConnector("pd", config.connections["pd"], policy=no_wait_policy()),
        }
        notes: list[Problem] = []
        problems = [p.message for p in live_problems(config, connectors, config.rule_lines, notes)]
        for connector in connectors.values():
            connector.close()
    connected = 'campaign: "Webinar 2026"' in rules or "nurture-to-campaign" in rules
    assert any("is connected to Salesforce campaign" in n.message for n in notes) is connected
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_validate_notes_a_rule_writing_a_connected_campaign(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from campaign_bridge.cli import main

    with SalesforceSandbox(daily_limit=100_000) as sf, PardotSandbox() as pd:
        webinar = sf.state.add_campaign("Webinar", statuses=[("Registered", False), ("Attended", True)])
        pd.state.add_campaign("Webinar 2026", salesforce_id=webinar)
        pd.state.add_list("Nurture")
        head = CONFIG.partition("rules:")[0] + "rules:\n"
        text = head.format(
            state=tmp_path / "s.db", sf_url=sf.instance_url, ca=sf.ca_bundle, sf_client=sf.credentials["client_id"],
            bu=pd.business_unit_id, pd_url=pd.url, pd_client=pd.org.credentials.client_id, pricing_policy="keep_first",
        ) + NURTURE_TO_CAMPAIGN  # fmt: skip
        path = tmp_path / "client.yaml"
        path.write_text(text)
        env = {"SF_SECRET": sf.credentials["client_secret"], "PD_SECRET": pd.org.credentials.client_secret}
        result = CliRunner(env=env).invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"'Webinar 2026' is connected to Salesforce campaign {webinar}" in result.output
    assert "valid (1 rules" in result.output
