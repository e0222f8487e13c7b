"""Marketo's error answers as the run reports them: which error and the whole message a user reads, for
the envelope codes Marketo answers with HTTP 200 and the identity endpoint's real 401 (api-facts.md §4,
AdobeDocs ``help/rest-api/error-codes.md``)."""

from __future__ import annotations

import pytest

from campaign_bridge.connectors.marketo.errors import ENVELOPE, TABLE, TokenExpiredError, failure
from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)

WHERE = "mk: GET /rest/v1/leads.json"


def _error(code: str | None, message: str, status: int = ENVELOPE) -> CampaignBridgeError:
    return TABLE.translate(failure(WHERE, status, code, message))


def test_the_message_names_where_status_code_and_marketos_words() -> None:
    f = failure(WHERE, 200, "601", "Access token invalid")
    assert (f.status, f.code, f.message) == (200, "601", "Access token invalid")
    assert f.text == "mk: GET /rest/v1/leads.json: Marketo answered 200 601: Access token invalid"
    assert failure(WHERE, 413, None, "(no body)").text == "mk: GET /rest/v1/leads.json: Marketo answered 413: (no body)"


@pytest.mark.parametrize("code", ["601", "602"])
def test_a_refused_or_expired_token_is_renewed(code: str) -> None:
    assert type(_error(code, "Access token expired")) is TokenExpiredError


@pytest.mark.parametrize("code", ["600", "603"])
def test_a_missing_permission_names_the_role_it_needs(code: str) -> None:
    error = _error(code, "Access denied")
    assert type(error) is AuthError
    assert str(error) == (
        f"{WHERE}: Marketo answered 200 {code}: Access denied "
        "(check the API user's role: it needs Read-Write Lead and Read-Write Assets)"
    )


def test_bad_credentials_at_the_identity_endpoint_name_the_settings() -> None:
    error = _error(None, "Bad client credentials", status=401)
    assert type(error) is AuthError
    assert str(error) == (
        f"{WHERE}: Marketo answered 401: Bad client credentials "
        "(check client_id and client_secret of the LaunchPoint service)"
    )


def test_the_daily_quota_stops_the_run_until_it_resets() -> None:
    error = _error("607", "Daily quota reached")
    assert type(error) is QuotaExhaustedError
    assert str(error) == (
        f"{WHERE}: Marketo answered 200 607: Daily quota reached "
        "(the instance's daily API quota is spent; it resets at midnight US Central and the next run resumes)"
    )


@pytest.mark.parametrize("message", ["Export daily quota 500MB exceeded", "Export Daily Quota Exceeded"])
def test_a_spent_export_allowance_stops_the_run(message: str) -> None:
    error = _error("1029", message)
    assert type(error) is QuotaExhaustedError
    assert str(error) == (
        f"{WHERE}: Marketo answered 200 1029: {message} (the daily bulk export allowance is spent; the next run resumes)"
    )


def test_too_many_export_jobs_queued_is_retried() -> None:
    error = _error("1029", "Too many jobs (10) in queue")
    assert type(error) is TransientError
    assert str(error) == f"{WHERE}: Marketo answered 200 1029: Too many jobs (10) in queue"


@pytest.mark.parametrize(("code", "wait"), [("606", 20.0), ("615", 1.0), ("1016", 20.0)])
def test_rate_limits_wait_their_window(code: str, wait: float) -> None:
    error = _error(code, "Max rate limit '100' exceeded with in '20' secs")
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == wait


@pytest.mark.parametrize("code", ["604", "608", "611", "713", "1014", "1019", "1022"])
def test_a_passing_failure_is_retried(code: str) -> None:
    assert type(_error(code, "Request timed out")) is TransientError


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("610", " (no such resource: check the base_url)"),
        ("1013", " (it may have been deleted in Marketo)"),
        ("609", ""),
    ],
)
def test_other_codes_stop_with_marketos_words(code: str, hint: str) -> None:
    error = _error(code, "Object not found")
    assert type(error) is FatalError
    assert str(error) == f"{WHERE}: Marketo answered 200 {code}: Object not found{hint}"


@pytest.mark.parametrize(("status", "limit"), [(413, "1 MB"), (414, "8 KB")])
def test_a_request_too_large_names_marketos_limit(status: int, limit: str) -> None:
    error = _error(None, "(no body)", status=status)
    assert type(error) is FatalError
    assert (
        str(error)
        == f"{WHERE}: Marketo answered {status}: (no body) (the {'request body' if status == 413 else 'URI'} is over Marketo's {limit})"
    )
