"""Salesforce connection settings: validation, defaults and secrets that never print."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.salesforce import SalesforceSettings
from campaign_bridge.connectors.salesforce.auth import jwt_audience
from campaign_bridge.connectors.salesforce.settings import DEFAULT_BULK_THRESHOLD, DEFAULT_LOGIN_URL
from campaign_bridge.errors import ConfigError

SECRET = "hunter2-very-secret"


def _settings(**auth: object) -> SalesforceSettings:
    return SalesforceSettings.model_validate(
        {"type": "salesforce", "instance_url": "https://acme.my.salesforce.com", "auth": auth}
    )


@pytest.mark.parametrize(
    "auth",
    [
        {"method": "client_credentials", "client_id": "cid", "client_secret": SECRET},
        {"method": "jwt_bearer", "client_id": "cid", "username": "u@acme.com", "private_key": SECRET},
        {"method": "password", "username": "u@acme.com", "password": SECRET, "security_token": SECRET},
        {"method": "password", "username": "u", "password": SECRET, "client_id": "c", "client_secret": SECRET},
        {"method": "session", "session_id": SECRET},
    ],
)
def test_every_auth_method_validates_and_hides_its_secrets(auth: dict[str, object]) -> None:
    settings = _settings(**auth)
    assert settings.auth.method == auth["method"]
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.model_dump_json()


def test_defaults_are_documented_constants() -> None:
    settings = _settings(method="session", session_id="x")
    assert settings.login_url == DEFAULT_LOGIN_URL
    assert settings.api_version == "59.0"
    assert settings.bulk_threshold == DEFAULT_BULK_THRESHOLD
    assert settings.verify_tls


def test_validation_errors_never_echo_secrets() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(method="password", username="u", password=SECRET, client_id="only-half")
    assert "client_id and client_secret" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        _settings(method="session", session_id=SECRET, sesion_typo=SECRET)
    assert SECRET not in str(caught.value)


def test_unknown_keys_and_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        SalesforceSettings.model_validate(
            {
                "type": "salesforce",
                "instance_url": "https://a.my.salesforce.com",
                "auth": {"method": "session", "session_id": "x"},
                "colour": 1,
            }
        )
    with pytest.raises(ValidationError, match="needs instance_url"):
        SalesforceSettings.model_validate({"type": "salesforce", "auth": {"method": "session", "session_id": "x"}})
    with pytest.raises(ValidationError, match="My Domain"):
        SalesforceSettings.model_validate(
            {"type": "salesforce", "auth": {"method": "client_credentials", "client_id": "c", "client_secret": "s"}}
        )
    with pytest.raises(ValidationError, match="exactly one of private_key_file or private_key"):
        _settings(method="jwt_bearer", client_id="c", username="u")


def test_client_credentials_use_my_domain_not_the_shared_login_host() -> None:
    settings = _settings(method="client_credentials", client_id="c", client_secret="s")
    assert settings.token_base_url == "https://acme.my.salesforce.com"
    test_org = SalesforceSettings.model_validate(
        {
            "instance_url": "https://acme--uat.sandbox.my.salesforce.com/",
            "login_url": "https://test.salesforce.com/",
            "auth": {"method": "password", "username": "u", "password": "p"},
        }
    )
    assert test_org.login_url == "https://test.salesforce.com"
    assert test_org.instance_url == "https://acme--uat.sandbox.my.salesforce.com"


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ],
)
def test_jwt_audience_is_the_authorization_server(login_url: str, audience: str) -> None:
    assert jwt_audience(login_url) == audience


@pytest.mark.parametrize(("given", "kept"), [("auto", "auto"), ("AUTO", "auto"), (5000, 5000), ("5000", 5000)])
def test_bulk_threshold_is_auto_or_a_pinned_count(given: object, kept: object) -> None:
    settings = SalesforceSettings.model_validate(
        {
            "instance_url": "https://a.my.salesforce.com",
            "bulk_threshold": given,
            "auth": {"method": "session", "session_id": "x"},
        }
    )
    assert settings.bulk_threshold == kept


@pytest.mark.parametrize("given", [0, -5, "often", "", True, 2.5, None])
def test_a_bad_bulk_threshold_is_refused_with_what_is_allowed(given: object) -> None:
    with pytest.raises(ValidationError) as caught:
        SalesforceSettings.model_validate(
            {
                "instance_url": "https://a.my.salesforce.com",
                "bulk_threshold": given,
                "auth": {"method": "session", "session_id": "x"},
            }
        )
    assert caught.value.error_count() == 1
    assert 'bulk_threshold must be "auto" or a whole number of changes above 0' in str(caught.value)


def test_a_client_file_with_a_bad_bulk_threshold_names_the_line_and_the_choices() -> None:
    text = """\
client: acme
connections:
  sf:
    type: salesforce
    instance_url: https://acme.my.salesforce.com
    bulk_threshold: sometimes
    auth: {method: session, session_id: "${SF_SESSION}"}
rules: []
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "acme.yaml", {"SF_SESSION": SECRET})
    assert "acme.yaml:6" in str(caught.value)
    assert 'bulk_threshold must be "auto" or a whole number of changes above 0' in str(caught.value)
    assert SECRET not in str(caught.value)
