"""Logging in to the Salesforce emulator with every auth method, over real HTTPS with its generated CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings
from campaign_bridge.errors import AuthError, FatalError
from campaign_bridge.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness_salesforce import no_wait_policy, settings_for


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as running:
        yield running


def _connect(sandbox: SalesforceSandbox, auth: dict[str, Any], **extra: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", settings_for(sandbox, auth, **extra), policy=no_wait_policy())


def _auths(sandbox: SalesforceSandbox, key_file: Path) -> dict[str, dict[str, Any]]:
    c = sandbox.credentials
    return {
        "client_credentials": {
            "method": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
        },
        "jwt_inline_key": {
            "method": "jwt_bearer",
            "client_id": c["client_id"],
            "username": c["username"],
            "private_key": c["jwt_private_key_pem"],
        },
        "jwt_key_file": {
            "method": "jwt_bearer",
            "client_id": c["client_id"],
            "username": c["username"],
            "private_key_file": str(key_file),
        },
        "soap_password": {
            "method": "password",
            "username": c["username"],
            "password": c["password"],
            "security_token": c["security_token"],
        },
        "oauth_password": {
            "method": "password",
            "username": c["username"],
            "password": c["password"],
            "security_token": c["security_token"],
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
        },
        "session": {"method": "session", "session_id": c["session_id"]},
    }


@pytest.mark.parametrize(
    "method", ["client_credentials", "jwt_inline_key", "jwt_key_file", "soap_password", "oauth_password", "session"]
)
def test_every_auth_method_logs_in(sandbox: SalesforceSandbox, tmp_path: Path, method: str) -> None:
    key_file = tmp_path / "server.key"
    key_file.write_text(sandbox.credentials["jwt_private_key_pem"])
    cid = sandbox.state.add_campaign(f"Auth via {method}")
    conn = _connect(sandbox, _auths(sandbox, key_file)[method])
    assert cid in {c.id for c in conn.list_containers()}


def test_wrong_secrets_are_refused_without_being_repeated(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    wrong = "Wrong-Secret-4242"
    attempts = [
        {"method": "client_credentials", "client_id": c["client_id"], "client_secret": wrong},
        {"method": "password", "username": c["username"], "password": wrong, "security_token": wrong},
        {
            "method": "password",
            "username": c["username"],
            "password": wrong,
            "client_id": c["client_id"],
            "client_secret": wrong,
        },
    ]
    for auth in attempts:
        with pytest.raises(AuthError) as caught:
            _connect(sandbox, auth).list_containers()
        assert wrong not in str(caught.value)
        assert wrong not in repr(caught.value.__cause__ or "")


def test_expired_session_is_renewed_transparently(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    conn = _connect(
        sandbox, {"method": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]}
    )
    conn.list_containers()
    sandbox.server.reset_log()
    sandbox.state.expire_sessions()
    cid = sandbox.state.add_campaign("After expiry")
    assert cid in {x.id for x in conn.list_containers()}
    assert sandbox.server.calls(r"/services/oauth2/token", "POST") == 1
    assert conn.usage().by_endpoint["oauth2/token"] == 2  # the first login and the renewal


def test_expired_plain_session_cannot_be_renewed(sandbox: SalesforceSandbox) -> None:
    session_id = sandbox.state.issue_session()
    conn = _connect(sandbox, {"method": "session", "session_id": session_id})
    conn.list_containers()
    sandbox.state.expire_sessions()
    with pytest.raises(AuthError, match="session has expired") as caught:
        conn.list_containers()
    assert session_id not in str(caught.value)


def test_shared_login_hosts_route_to_the_org(sandbox: SalesforceSandbox) -> None:
    """login.salesforce.com (the default) and test.salesforce.com work: the emulator's routing session stands
    in for DNS, and the connector wraps its adapters rather than replacing them."""
    c = sandbox.credentials
    auth = {
        "method": "password",
        "username": c["username"],
        "password": c["password"],
        "security_token": c["security_token"],
    }
    for login_url in ("https://login.salesforce.com", "https://test.salesforce.com"):
        settings = SalesforceSettings.model_validate({"login_url": login_url, "auth": auth})
        conn = SalesforceConnector("sf", settings, policy=no_wait_policy(), session=sandbox.requests_session())
        conn.list_containers()
        assert conn.usage().by_endpoint["soap/login"] == 1


def test_untrusted_certificate_is_a_clear_fatal_error(sandbox: SalesforceSandbox) -> None:
    c = sandbox.credentials
    settings = settings_for(
        sandbox, {"method": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]}
    )
    untrusting = settings.model_copy(update={"ca_bundle": None})
    with pytest.raises(FatalError, match="set ca_bundle"):
        SalesforceConnector("sf", untrusting, policy=no_wait_policy()).list_containers()
