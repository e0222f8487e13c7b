"""A secret must not leak in the form it travelled in: a gateway or vendor that echoes the request's
``Authorization: Basic …`` header (base64 of ``client_id:client_secret``) in its error text has the
credential redacted from the message a user sees, as it has a ``Bearer`` token."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import responses

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, Failure
from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.errors import AuthError, CampaignBridgeError

LOGIN = "https://login.example-sf.test"
CLIENT_ID = "3MVG9-client-id"
SECRET = "SFsecret-4f1c9e0b-do-not-print"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()


def _forms(secret: str) -> list[str]:
    """Every way the secret may show: plain, and base64 inside a Basic header (alone or as id:secret)."""
    return [secret, base64.b64encode(secret.encode()).decode(), BASIC]


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_refused_login_that_echoes_the_basic_header_does_not_leak_the_secret(http: responses.RequestsMock) -> None:
    http.post(
        f"{LOGIN}/services/oauth2/token",
        status=400,
        json={"error": "invalid_client", "error_description": f"bad request: Authorization: Basic {BASIC}"},
    )
    settings = SalesforceSettings.model_validate(
        {
            "instance_url": LOGIN,
            "login_url": LOGIN,
            "auth": {"method": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET},
        }
    )
    conn = SalesforceConnector("sf", settings, policy=CallPolicy(attempts=1, sleep=lambda _: None))
    with pytest.raises(AuthError) as caught:
        conn.list_containers()
    message = str(caught.value)
    assert "Salesforce refused the login (invalid_client: bad request: Authorization: Basic [redacted])" in message
    assert not [form for form in _forms(SECRET) if form in message]


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
def test_the_error_table_redacts_credentials_a_vendor_message_echoes(status: int) -> None:
    token = "pat-na1-7d3b5a90-do-not-print"
    vendor = f"denied for headers Authorization: Basic {BASIC}, bearer {token}"
    error = DEFAULT_TABLE.translate(
        Failure(status, None, vendor, f"hs: HubSpot GET /lists answered {status}: {vendor}")
    )
    assert isinstance(error, CampaignBridgeError)
    text = str(error)
    assert "Authorization: Basic [redacted], bearer [redacted]" in text
    assert not [form for form in [*_forms(SECRET), token] if form in text]


def test_words_after_basic_are_not_taken_for_a_credential() -> None:
    vendor = "Basic authentication is disabled for this org"
    error = DEFAULT_TABLE.translate(Failure(403, None, vendor, f"sf: Salesforce answered 403: {vendor}"))
    assert str(error) == f"sf: Salesforce answered 403: {vendor}"


def test_hubspots_own_words_kept_for_a_refused_record_are_redacted_too() -> None:
    from campaign_bridge.connectors.hubspot.errors import HubSpotValidationError, parse_failure, translate

    body = '{"status": "error", "category": "VALIDATION_ERROR", "message": "bad request, Authorization: Bearer pat-na1-7d3b5a90-secret"}'
    error = translate(parse_failure("hs: POST /lists", 400, body, {}))
    assert isinstance(error, HubSpotValidationError)
    assert error.hubspot_message == "bad request, Authorization: Bearer [redacted]"
    assert "pat-na1-7d3b5a90-secret" not in str(error)
