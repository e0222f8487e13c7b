"""How the HubSpot connector meets failure: expired and bad credentials, rate and daily limits,
transient faults, its API budget, and secrets that never leak."""

from __future__ import annotations

import logging

import pydantic
import pytest

from campaign_bridge.connectors.hubspot import HubSpotSettings
from campaign_bridge.errors import AuthError, QuotaExhaustedError, TransientError
from tests.contract.harness_hubspot import HubSpotHarness


def _oauth(hs: HubSpotHarness, **changes: str) -> HubSpotSettings:
    return hs.settings(auth={"method": "oauth", **hs.sb.oauth, **changes})


def _log(hs: HubSpotHarness) -> list[tuple[str, int]]:
    return [(entry.path, entry.status) for entry in hs.sb.server.log]


def _chain(exc: BaseException | None) -> str:
    text = []
    while exc is not None:
        text.append(f"{exc!r} {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(text)


def test_expired_oauth_token_is_renewed_once_and_the_call_repeated(hs: HubSpotHarness) -> None:
    hs.sb.state.add_list("Nurture")
    conn = hs.connector(_oauth(hs))
    assert [c.name for c in conn.list_containers()] == ["Nurture"]  # mints the first token
    hs.sb.state.expire_tokens()
    hs.sb.server.reset_log()

    assert [c.name for c in conn.list_containers()] == ["Nurture"]

    assert _log(hs) == [("/crm/v3/lists/search", 401), ("/oauth/v1/token", 200), ("/crm/v3/lists/search", 200)]


def test_expired_private_app_token_is_an_auth_error(hs: HubSpotHarness) -> None:
    conn = hs.connector()
    hs.sb.state.expire_tokens()
    with pytest.raises(AuthError, match="EXPIRED_AUTHENTICATION"):
        conn.list_containers()
    assert hs.sb.server.calls("/oauth/") == 0


def test_bad_token_and_bad_refresh_token_are_auth_errors(hs: HubSpotHarness) -> None:
    with pytest.raises(AuthError, match="INVALID_AUTHENTICATION"):
        hs.connector(hs.settings(auth={"method": "private_app", "token": "pat-na1-revoked"})).list_containers()
    with pytest.raises(AuthError, match="could not renew the OAuth access token.*BAD_REFRESH_TOKEN"):
        hs.connector(_oauth(hs, refresh_token="stale")).list_containers()
    assert hs.sb.server.calls("/oauth/v1/token") == 1  # a refused refresh is not retried


def test_secrets_never_appear_in_reprs_logs_or_errors(hs: HubSpotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token, secret, refresh = "pat-na1-s3cr3t-token", "client-s3cr3t", "refresh-s3cr3t"
    private = hs.settings(auth={"method": "private_app", "token": token})
    oauth = _oauth(hs, client_secret=secret, refresh_token=refresh)
    shown = [repr(private), str(private), private.model_dump_json(), repr(oauth), str(oauth), oauth.model_dump_json()]

    for settings in (private, oauth):
        conn = hs.connector(settings)
        shown.append(repr(conn.__dict__))
        with pytest.raises(AuthError) as info:
            conn.list_containers()
        shown.append(_chain(info.value))

    text = "\n".join([*shown, caplog.text])
    for value in (token, secret, refresh):
        assert value not in text
    assert "**********" in repr(private)


def test_transient_503_is_retried(hs: HubSpotHarness) -> None:
    hs.sb.state.add_list("Nurture")
    conn = hs.connector()
    hs.sb.server.faults.queue("error", 2)  # two 503s, then the real answer

    assert [c.name for c in conn.list_containers()] == ["Nurture"]

    assert [status for _, status in _log(hs)] == [503, 503, 200]
    assert conn.usage().calls == 3  # every attempt is counted
    assert conn.usage().by_endpoint == {"lists.search": 3}


def test_dropped_connections_and_garbage_bodies_are_retried(hs: HubSpotHarness) -> None:
    hs.sb.state.add_list("Nurture")
    conn = hs.connector()
    hs.sb.server.faults.queue("drop")
    hs.sb.server.faults.queue("garbage")

    assert [c.name for c in conn.list_containers()] == ["Nurture"]
    assert conn.usage().calls == 3


def test_persistent_5xx_gives_up_with_a_transient_error(hs: HubSpotHarness) -> None:
    conn = hs.connector()
    hs.sb.server.faults.configure(error_rate=1.0, error_status=502)
    with pytest.raises(TransientError, match="502"):
        conn.list_containers()
    assert hs.sb.server.calls("/crm/v3/lists/search") == 5


def test_ten_second_429_waits_what_hubspot_says_then_succeeds() -> None:
    hs = HubSpotHarness(ten_second_limit=5)
    try:
        conn = hs.connector()
        for _ in range(5):  # the window is already spent by someone else
            hs.sb.state.limits.check(hs.sb.token, oauth=False, search=False, wall_seconds=hs.wall())
        start = hs.pace()

        conn.list_containers()

        assert [status for _, status in _log(hs)] == [429, 200]
        assert hs.pace() - start >= 10  # Retry-After honoured (on the test's clock)
    finally:
        hs.close()


def test_daily_limit_stops_the_run_without_retrying() -> None:
    hs = HubSpotHarness(daily_limit=2)
    try:
        conn = hs.connector()
        conn.list_containers()
        conn.lookup_people(["a@example.com"])
        assert (conn.usage().used, conn.usage().limit) == (2, 2)

        with pytest.raises(QuotaExhaustedError, match="daily"):
            conn.list_containers()
        assert [status for _, status in _log(hs)] == [200, 207, 429]  # 207: the lookup missed
    finally:
        hs.close()


def test_api_budget_stops_the_run_before_it_is_overspent(hs: HubSpotHarness) -> None:
    conn = hs.connector(hs.settings(api_budget=2))
    conn.list_containers()
    conn.list_containers()
    with pytest.raises(QuotaExhaustedError, match="budget of 2 calls"):
        conn.list_containers()
    assert hs.sb.server.calls("") == 2


def test_settings_are_validated_with_defaults_named() -> None:
    private = HubSpotSettings(auth={"method": "private_app", "token": "t"})
    assert private.base_url == "https://api.hubapi.com"
    assert private.rate_limit == 100
    oauth = HubSpotSettings(auth={"method": "oauth", "client_id": "c", "client_secret": "s", "refresh_token": "r"})
    assert oauth.rate_limit == 110
    assert HubSpotSettings(auth={"method": "private_app", "token": "t"}, requests_per_10s=190).rate_limit == 190
    with pytest.raises(pydantic.ValidationError, match="extra"):
        HubSpotSettings(auth={"method": "private_app", "token": "t"}, tokn="x")
    with pytest.raises(pydantic.ValidationError, match="method"):
        HubSpotSettings(auth={"method": "api_key", "token": "t"})
    with pytest.raises(pydantic.ValidationError, match="https://"):
        HubSpotSettings(auth={"method": "private_app", "token": "t"}, base_url="api.hubapi.com")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        private.verify_tls = False  # type: ignore[misc]
