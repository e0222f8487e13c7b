"""The HubSpot emulator's rate limits, token expiry and OAuth refresh, as the real client sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import hubspot
import pytest
from hubspot.crm.contacts.exceptions import ApiException, UnauthorizedException
from hubspot.oauth.exceptions import ApiException as OAuthApiException
from urllib3 import BaseHTTPResponse, Retry

from campaign_bridge.sandbox.hubspot import HubSpotSandbox, ManualClock


@pytest.fixture
def monotonic() -> ManualClock:
    return ManualClock(0.0)


@pytest.fixture(scope="module")
def server() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(ten_second_limit=3, daily_limit=1000) as sb:
        yield sb


@pytest.fixture
def sandbox(server: HubSpotSandbox, monotonic: ManualClock) -> HubSpotSandbox:
    server.reset(clock=ManualClock(), monotonic=monotonic)
    server.state.add_contact("a@x.com")
    return server


def client_for(sandbox: HubSpotSandbox, token: str | None = None, retry: Retry | None = None) -> Any:
    # Retry(0): urllib3's default Retry would otherwise sleep out a 429's Retry-After on GETs.
    return hubspot.Client.create(access_token=token or sandbox.token, host=sandbox.url, retry=retry or Retry(0))


def test_calls_carry_rate_limit_headers(sandbox: HubSpotSandbox) -> None:
    _, status, headers = client_for(sandbox).crm.contacts.basic_api.get_page_with_http_info()
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "3"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "1000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "999"


def test_fourth_call_in_ten_seconds_gets_hubspots_429(sandbox: HubSpotSandbox, monotonic: ManualClock) -> None:
    contacts = client_for(sandbox).crm.contacts.basic_api
    for _ in range(3):
        contacts.get_page()
        monotonic.advance(1.0)
    with pytest.raises(ApiException) as caught:
        contacts.get_page()
    body = json.loads(caught.value.body)
    assert caught.value.status == 429
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert body["correlationId"]
    assert body["requestId"]
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert caught.value.headers["Retry-After"] == "7"  # the first call leaves the window 7 s from now
    monotonic.advance(7.0)
    assert contacts.get_page().results


def test_client_retry_honours_retry_after(sandbox: HubSpotSandbox, monotonic: ManualClock) -> None:
    class ClockRetry(Retry):
        """Waits out Retry-After on the test's clock instead of sleeping."""

        waited: ClassVar[list[float]] = []

        def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
            seconds = self.get_retry_after(response)
            if seconds is None:
                return False
            self.waited.append(seconds)
            monotonic.advance(seconds)
            return True

    retry = ClockRetry(total=3, status_forcelist=[429], allowed_methods=None)
    contacts = client_for(sandbox, retry=retry).crm.contacts.basic_api
    for _ in range(4):
        assert contacts.get_page().results
    assert ClockRetry.waited == [10.0]
    assert sandbox.server.calls("/crm/v3/objects/contacts", "GET") == 5


def test_daily_limit_answers_429_daily(sandbox: HubSpotSandbox) -> None:
    sandbox.state.set_limits(ten_second=None, daily=2)
    contacts = client_for(sandbox).crm.contacts.basic_api
    contacts.get_page()
    contacts.get_page()
    with pytest.raises(ApiException) as caught:
        contacts.get_page()
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["policyName"]) == (429, "DAILY")
    assert body["requestId"]
    assert body["message"] == "You have reached your daily limit."


def test_expired_token_raises_unauthorized_with_hubspots_envelope(sandbox: HubSpotSandbox) -> None:
    sandbox.state.expire_tokens()
    with pytest.raises(UnauthorizedException) as caught:
        client_for(sandbox).crm.contacts.basic_api.get_page()
    body = json.loads(caught.value.body)
    assert caught.value.status == 401
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"].startswith("The OAuth token used to make this call expired")
    assert "expire time" in body["context"]


def test_unknown_token_is_invalid_authentication(sandbox: HubSpotSandbox) -> None:
    with pytest.raises(UnauthorizedException) as caught:
        client_for(sandbox, token="pat-na1-not-a-real-token").crm.contacts.basic_api.get_page()
    assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_refresh_token_issues_a_working_access_token(sandbox: HubSpotSandbox) -> None:
    sandbox.state.expire_tokens()
    tokens = client_for(sandbox).oauth.tokens_api.create(grant_type="refresh_token", **sandbox.oauth)
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 1800
    page = client_for(sandbox, token=tokens.access_token).crm.contacts.basic_api.get_page()
    assert page.results


def test_refresh_with_wrong_refresh_token_is_refused(sandbox: HubSpotSandbox) -> None:
    oauth = {**sandbox.oauth, "refresh_token": "stale"}
    with pytest.raises(OAuthApiException) as caught:
        client_for(sandbox).oauth.tokens_api.create(grant_type="refresh_token", **oauth)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["status"] == "BAD_REFRESH_TOKEN"
