"""HubSpot's error answers as the run reports them: which error, how long a rate limit waits, and the
whole message, from the envelopes HubSpot sends (docs: error handling, rate limits)."""

from __future__ import annotations

import json

import pytest

from campaign_bridge.connectors.hubspot.errors import (
    ExpiredTokenError,
    HubSpotValidationError,
    parse_failure,
    translate,
)
from campaign_bridge.errors import AuthError, FatalError, QuotaExhaustedError, RateLimitedError, TransientError

WHERE = "hs: POST /crm/v3/objects/contacts/search"


def _error(status: int, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return translate(parse_failure(WHERE, status, raw, headers))


def _limit(policy: str | None, message: str) -> dict[str, str]:
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": "c-1"}
    return {**body, "policyName": policy} if policy else body


@pytest.mark.parametrize(
    ("body", "headers", "wait"),
    [
        (_limit("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."), {}, 10.0),
        (
            _limit("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
            {"Retry-After": "3"},
            3.0,
        ),
        (
            _limit("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "2000"},
            2.0,
        ),
        (
            _limit("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "soon"},
            10.0,
        ),
        (
            _limit("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
            {"Retry-After": "0"},
            0.0,
        ),
        (_limit("SECONDLY", "You have reached your secondly limit."), {}, 1.0),
        (_limit(None, "You have reached your secondly limit."), {}, 1.0),
    ],
)
def test_a_rate_limit_waits_what_hubspot_asks_or_its_window(body: object, headers: dict[str, str], wait: float) -> None:
    error = _error(429, body, headers)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == wait
    policy = f" {body['policyName']}" if "policyName" in body else ""  # type: ignore[operator,index]
    assert str(error) == f"{WHERE}: HubSpot answered 429{policy}: {body['message']}"  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [_limit("DAILY", "You have reached your daily limit."), _limit(None, "You have reached your DAILY limit.")],
)
def test_the_daily_limit_stops_the_run_until_the_next(body: dict[str, str]) -> None:
    error = _error(429, body)
    assert isinstance(error, QuotaExhaustedError)
    policy = f" {body['policyName']}" if "policyName" in body else ""
    assert str(error) == (
        f"{WHERE}: HubSpot answered 429{policy}: {body['message']} "
        "(the portal's daily API allowance is spent; the next run resumes)"
    )


def test_refusals_name_what_to_check() -> None:
    expired = _error(
        401,
        {
            "status": "error",
            "message": "The OAuth token used to make this call expired 5 minutes ago.",
            "category": "EXPIRED_AUTHENTICATION",
        },
    )
    assert type(expired) is ExpiredTokenError
    assert (
        str(expired)
        == f"{WHERE}: HubSpot answered 401 EXPIRED_AUTHENTICATION: The OAuth token used to make this call expired 5 minutes ago."
    )
    for status in (401, 403):
        refused = _error(
            status,
            {
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION",
            },
        )
        assert type(refused) is AuthError
        assert str(refused) == (
            f"{WHERE}: HubSpot answered {status} INVALID_AUTHENTICATION: Authentication credentials not found. "
            "(check the connection's token, app scopes and portal)"
        )
    missing = _error(404, {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"})
    assert type(missing) is FatalError
    assert (
        str(missing)
        == f"{WHERE}: HubSpot answered 404 OBJECT_NOT_FOUND: resource not found (it may have been deleted in HubSpot)"
    )


def test_a_validation_error_keeps_hubspots_own_words_for_the_record() -> None:
    error = _error(
        400, {"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"}
    )
    assert isinstance(error, HubSpotValidationError)
    assert error.hubspot_message == "Property values were not valid"
    assert str(error) == f"{WHERE}: HubSpot answered 400 VALIDATION_ERROR: Property values were not valid"


def test_the_oauth_endpoints_status_is_its_code() -> None:
    error = _error(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
    assert str(error) == f"{WHERE}: HubSpot answered 400 BAD_REFRESH_TOKEN: missing or unknown refresh token"


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (502, "<html><body>Bad Gateway</body></html>", "<html><body>Bad Gateway</body></html>"),
        (502, b"  <html>" + b"x" * 300 + b"</html>", "<html>" + "x" * 194),
        (503, "", "(no body)"),
        (503, None, "(no body)"),
        (500, {"status": "error"}, "(no message)"),
        (500, "[1, 2]", "[1, 2]"),
    ],
)
def test_an_answer_that_is_not_hubspots_envelope_is_kept_short(status: int, body: object, said: str) -> None:
    error = _error(status, body)
    assert isinstance(error, TransientError)
    assert str(error) == f"{WHERE}: HubSpot answered {status}: {said}"


def test_a_rate_limit_answered_without_hubspots_envelope_still_waits_what_it_asks() -> None:
    error = _error(429, "<html>Too Many Requests</html>", {"Retry-After": "7"})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0
    assert str(error) == f"{WHERE}: HubSpot answered 429: <html>Too Many Requests</html>"


def test_an_answer_in_broken_bytes_is_still_reported() -> None:
    error = _error(502, b"\xff\xfeBad Gateway")
    assert str(error) == f"{WHERE}: HubSpot answered 502: \ufffd\ufffdBad Gateway"
