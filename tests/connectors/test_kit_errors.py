"""The kit's error table: default rows by status, a vendor's rows over them keyed by status and code,
and the same answer meaning the same thing in every connector unless the vendor says otherwise."""

from __future__ import annotations

import requests

from campaign_bridge.connectors.hubspot.errors import TABLE as HUBSPOT
from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, NO_ANSWER, Failure, fatal, requests_failure
from campaign_bridge.connectors.salesforce.errors import TABLE as SALESFORCE
from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)


def _failure(status: int, code: str | None = None, headers: dict[str, str] | None = None) -> Failure:
    return Failure(status, code, "vendor words", f"crm: answered {status} {code}: vendor words", headers or {})


def _kind(error: CampaignBridgeError) -> type[CampaignBridgeError]:
    return type(error)


def test_default_rows_sort_statuses_by_what_to_do_next() -> None:
    kinds = {status: _kind(DEFAULT_TABLE.translate(_failure(status))) for status in (400, 401, 403, 404, 408, 409)}
    assert kinds == {
        400: FatalError,
        401: AuthError,
        403: AuthError,
        404: FatalError,
        408: TransientError,
        409: FatalError,
    }
    assert _kind(DEFAULT_TABLE.translate(_failure(503))) is TransientError
    assert _kind(DEFAULT_TABLE.translate(_failure(NO_ANSWER))) is TransientError
    assert _kind(DEFAULT_TABLE.translate(_failure(418))) is FatalError


def test_a_429_waits_what_retry_after_asks() -> None:
    error = DEFAULT_TABLE.translate(_failure(429, headers={"Retry-After": "7"}))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0
    unsaid = DEFAULT_TABLE.translate(_failure(429, headers={"Retry-After": "soon"}))
    assert isinstance(unsaid, RateLimitedError)
    assert unsaid.retry_after is None  # backoff, as the policy does when nothing is said


def test_a_vendor_row_wins_over_the_default_and_a_code_over_its_status() -> None:
    table = DEFAULT_TABLE.extend({(403, None): fatal, (403, "LIMIT"): lambda f: QuotaExhaustedError(f.text)})
    assert _kind(table.translate(_failure(403, "LIMIT"))) is QuotaExhaustedError
    assert _kind(table.translate(_failure(403, "NO_ACCESS"))) is FatalError
    assert _kind(DEFAULT_TABLE.translate(_failure(403, "NO_ACCESS"))) is AuthError  # the default is untouched
    assert str(table.translate(_failure(403, "LIMIT"))) == "crm: answered 403 LIMIT: vendor words"


def test_salesforce_and_hubspot_extend_the_defaults_only_where_they_differ() -> None:
    # A Salesforce 403 is a missing permission, HubSpot's a token without the scope: both stop the run.
    assert _kind(SALESFORCE.translate(_failure(403))) is FatalError
    assert _kind(HUBSPOT.translate(_failure(403))) is AuthError
    assert _kind(SALESFORCE.translate(_failure(403, "REQUEST_LIMIT_EXCEEDED"))) is QuotaExhaustedError
    assert _kind(HUBSPOT.translate(_failure(429, "DAILY"))) is QuotaExhaustedError
    for table in (SALESFORCE, HUBSPOT):
        assert _kind(table.translate(_failure(502))) is TransientError
        assert _kind(table.translate(_failure(408))) is TransientError
        assert _kind(table.translate(_failure(409))) is FatalError
        assert isinstance(table.translate(_failure(429)), RateLimitedError)


def test_transport_failures_of_requests_are_translated_with_the_cure() -> None:
    tls = requests_failure(requests.exceptions.SSLError("bad cert"), connection="crm", vendor="Acme", endpoint="query")
    assert isinstance(tls, FatalError)
    assert "set ca_bundle" in str(tls)
    reset = requests_failure(requests.ConnectionError("reset"), connection="crm", vendor="Acme", endpoint="query")
    assert isinstance(reset, TransientError)
    assert str(reset) == "crm: connection to Acme failed during query"
    assert requests_failure(ValueError("a bug"), connection="crm", vendor="Acme", endpoint="query") is None
