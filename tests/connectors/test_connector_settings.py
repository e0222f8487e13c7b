"""Wrong settings are one error in every connector: a ``FatalError`` naming the connection and what it
needs, at runtime; in a client file, a ``ConfigError`` with FILE:LINE, as every other config problem."""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.base import Connector
from campaign_bridge.connectors.hubspot import HubSpotConnector, HubSpotSettings
from campaign_bridge.connectors.memory import MemoryCRM, MemorySettings
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.errors import ConfigError, FatalError

SALESFORCE = SalesforceSettings.model_validate(
    {"instance_url": "https://acme.my.salesforce.com", "auth": {"method": "session", "session_id": "s"}}
)
HUBSPOT = HubSpotSettings.model_validate({"auth": {"method": "private_app", "token": "t"}})
MEMORY = MemorySettings(type="memory-crm")


@pytest.mark.parametrize(
    ("connector", "settings", "needs"),
    [
        (SalesforceConnector, HUBSPOT, "SalesforceSettings, got HubSpotSettings \\(type: hubspot\\)"),
        (HubSpotConnector, SALESFORCE, "HubSpotSettings, got SalesforceSettings \\(type: salesforce\\)"),
        (MemoryCRM, HUBSPOT, "MemorySettings, got HubSpotSettings"),
    ],
)
def test_a_connector_built_with_another_systems_settings_is_a_fatal_error(
    connector: type[Connector], settings: object, needs: str
) -> None:
    with pytest.raises(FatalError, match=f"^wired: this connection needs {needs}"):
        connector("wired", settings)  # type: ignore[arg-type]


def test_wrong_settings_never_echo_a_secret() -> None:
    with pytest.raises(FatalError) as caught:
        HubSpotConnector("hs", SALESFORCE)
    assert "'s'" not in str(caught.value)
    assert "session_id" not in str(caught.value)


def test_a_bad_hubspot_setting_in_a_client_file_names_the_line() -> None:
    text = """\
client: acme
connections:
  hs:
    type: hubspot
    auth: {method: private_app, token: "${HS_TOKEN}"}
    requests_per_10s: 0
rules: []
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "acme.yaml", {"HS_TOKEN": "pat-secret"})
    assert "acme.yaml:6" in str(caught.value)
    assert "requests_per_10s" in str(caught.value)
    assert "pat-secret" not in str(caught.value)
