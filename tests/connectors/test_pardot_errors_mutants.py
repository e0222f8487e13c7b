"""Account Engagement's error answers as the run reports them: which error, and the whole message a user
reads, from the ``{"code": <int>, "message": "…"}`` bodies v5 sends with a coarse status (api-facts.md §5)."""

from __future__ import annotations

import json

import pytest

from campaign_bridge.connectors.pardot.errors import (
    CONCURRENT_WAIT,
    PardotNotFoundError,
    PardotRequestError,
    TokenRefusedError,
    parse_failure,
)
from campaign_bridge.connectors.pardot.errors import TABLE as PARDOT
from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)

WHERE = "pd: GET /api/v5/objects/prospects"


def _error(status: int, body: bytes, headers: dict[str, str] | None = None) -> CampaignBridgeError:
    return PARDOT.translate(parse_failure(WHERE, status, body, headers or {}))


def _body(code: int, message: str | None) -> bytes:
    return json.dumps({"code": code, "message": message} if message is not None else {"code": code}).encode()


# the codes whose HTTP status is not confirmed are read the same under each status they may come with
@pytest.mark.parametrize("status", [400, 401, 403, 429])
def test_the_codes_campaign_bridge_acts_on_mean_the_same_under_each_status(status: int) -> None:
    token = _error(status, _body(184, "access_token is invalid, unknown, or malformed"))
    assert type(token) is TokenRefusedError
    assert str(token) == (
        f"{WHERE}: Account Engagement answered {status} code 184: access_token is invalid, unknown, or malformed "
        "(check the connected app's pardot_api scope and the integration user)"
    )
    daily = _error(status, _body(122, "Daily API rate limit met."))
    assert type(daily) is QuotaExhaustedError
    assert str(daily) == (
        f"{WHERE}: Account Engagement answered {status} code 122: Daily API rate limit met. "
        "(the business unit's daily API allotment is spent; the next run resumes after midnight)"
    )
    busy = _error(status, _body(66, "Exceeded concurrent request limit."))
    assert type(busy) is RateLimitedError
    assert busy.retry_after == CONCURRENT_WAIT == 1.0
    assert str(busy) == f"{WHERE}: Account Engagement answered {status} code 66: Exceeded concurrent request limit."
    unit = _error(status, _body(201, "Business Unit ID not found."))
    assert type(unit) is FatalError
    assert str(unit) == (
        f"{WHERE}: Account Engagement answered {status} code 201: Business Unit ID not found. "
        "(check business_unit_id, and base_url: pi.pardot.com or pi.demo.pardot.com)"
    )
    header = _error(status, _body(181, "Missing required header."))
    assert type(header) is FatalError
    assert str(header) == (
        f"{WHERE}: Account Engagement answered {status} code 181: Missing required header. "
        "(the Pardot-Business-Unit-Id header is required with a Salesforce token)"
    )


def test_a_refused_request_keeps_pardots_code_and_words_apart() -> None:
    error = _error(400, _body(209, "Too many filtered fields"))
    assert type(error) is PardotRequestError
    assert (error.code, error.pardot_message) == ("209", "Too many filtered fields")
    assert str(error) == f"{WHERE}: Account Engagement answered 400 code 209: Too many filtered fields"


def test_a_refused_request_without_a_message_says_so() -> None:
    error = _error(400, _body(209, None))
    assert isinstance(error, PardotRequestError)
    assert error.pardot_message == "(no message)"
    assert str(error) == f"{WHERE}: Account Engagement answered 400 code 209: (no message)"
    error = _error(400, _body(209, ""))
    assert str(error) == f"{WHERE}: Account Engagement answered 400 code 209: (no message)"


def test_a_missing_object_is_not_found_and_another_404_is_fatal() -> None:
    gone = _error(404, _body(192, "Invalid ID."))
    assert type(gone) is PardotNotFoundError
    assert str(gone) == f"{WHERE}: Account Engagement answered 404 code 192: Invalid ID."
    other = _error(404, _body(210, "Page token expired."))
    assert type(other) is FatalError
    assert str(other) == f"{WHERE}: Account Engagement answered 404 code 210: Page token expired."


def test_a_body_that_is_not_the_envelope_is_quoted_short_and_stripped() -> None:
    page = b"\n<html><body>" + b"Service Unavailable " * 30 + b"</body></html>  "
    error = _error(503, page)
    assert type(error) is TransientError
    text = page.decode().strip()[:200]
    assert str(error) == f"{WHERE}: Account Engagement answered 503: {text}"
    refused = _error(400, b'{"error": "no code here"}')
    assert isinstance(refused, PardotRequestError)
    assert refused.code is None
    assert str(refused) == f'{WHERE}: Account Engagement answered 400: {{"error": "no code here"}}'
    assert str(_error(400, b'["x"]')) == f'{WHERE}: Account Engagement answered 400: ["x"]'


def test_an_empty_or_unreadable_body_still_reads() -> None:
    assert str(_error(502, b"")) == f"{WHERE}: Account Engagement answered 502: (no body)"
    assert str(_error(502, b"  \n")) == f"{WHERE}: Account Engagement answered 502: (no body)"
    assert str(_error(502, b"Bad \xff gateway")) == f"{WHERE}: Account Engagement answered 502: Bad \ufffd gateway"
    assert str(_error(502, b"{not json")) == f"{WHERE}: Account Engagement answered 502: {{not json"


def test_the_failure_keeps_code_message_and_headers() -> None:
    failure = parse_failure(WHERE, 429, _body(66, "Exceeded concurrent request limit."), {"X-Api-Usage": "5"})
    assert (failure.status, failure.code, failure.message) == (429, "66", "Exceeded concurrent request limit.")
    assert dict(failure.headers) == {"X-Api-Usage": "5"}


def test_an_unknown_token_status_is_still_an_auth_error() -> None:
    error = _error(401, _body(1, "Invalid API key or user key"))
    assert type(error) is AuthError
    assert str(error) == f"{WHERE}: Account Engagement answered 401 code 1: Invalid API key or user key"
