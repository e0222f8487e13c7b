"""Dataverse's error answers as the run reports them: which error, how long a service protection limit
waits, and the whole message a user reads, from the bodies Dataverse sends (api-facts.md §3: the
``{"error": {"code", "message"}}`` envelope, a 401 with an empty body, 429 with ``Retry-After``)."""

from __future__ import annotations

import json

import pytest

from campaign_bridge.connectors.dynamics.errors import TokenExpiredError, parse_failure, translate
from campaign_bridge.errors import AuthError, FatalError, RateLimitedError, TransientError

WHERE = "dyn: contacts"


def _envelope(code: str | None, message: str | None) -> bytes:
    error = {k: v for k, v in (("code", code), ("message", message)) if v is not None}
    return json.dumps({"error": error}).encode()


def test_a_deleted_record_names_the_code_and_dataverse_words() -> None:
    body = _envelope("0x80040217", "contact With Id = 5f1e Does Not Exist")
    error = translate(parse_failure(WHERE, 404, body, {}))
    assert type(error) is FatalError
    assert str(error) == (
        "dyn: contacts: Dataverse answered 404 0x80040217: contact With Id = 5f1e Does Not Exist "
        "(it may have been deleted in Dynamics)"
    )


def test_another_404_code_is_fatal_without_the_deleted_hint() -> None:
    body = _envelope("0x8006088a", "Resource not found for the segment 'contactz'.")
    error = translate(parse_failure(WHERE, 404, body, {}))
    assert type(error) is FatalError
    assert (
        str(error) == "dyn: contacts: Dataverse answered 404 0x8006088a: Resource not found for the segment 'contactz'."
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
        ("0x80072321", "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds."),
        ("0x80072326", "Number of concurrent requests exceeded the limit of 52."),
    ],
)
def test_a_service_protection_limit_waits_what_retry_after_says(code: str, message: str) -> None:
    error = translate(parse_failure(WHERE, 429, _envelope(code, message), {"Retry-After": "7"}))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0
    assert str(error) == f"dyn: contacts: Dataverse answered 429 {code}: {message}"


def test_a_refused_token_with_an_empty_body_is_renewed_and_says_no_body() -> None:
    for body in (b"", None, ""):
        error = translate(parse_failure(WHERE, 401, body, {}))
        assert type(error) is TokenExpiredError
        assert str(error) == "dyn: contacts: Dataverse answered 401: (no body)"


def test_a_forbidden_call_names_the_security_role_it_needs() -> None:
    body = _envelope("0x80040220", "Principal user is missing prvReadList privilege")
    error = translate(parse_failure(WHERE, 403, body, {}))
    assert type(error) is AuthError
    assert str(error) == (
        "dyn: contacts: Dataverse answered 403 0x80040220: Principal user is missing prvReadList privilege "
        "(the app's application user needs a security role that can read and write contacts, leads, "
        "marketing lists, campaigns and campaign responses)"
    )


def test_an_envelope_without_a_message_or_code_still_reads() -> None:
    failure = parse_failure(WHERE, 400, _envelope("0x80040203", None), {})
    assert (failure.code, failure.message) == ("0x80040203", "(no message)")
    assert str(translate(failure)) == "dyn: contacts: Dataverse answered 400 0x80040203: (no message)"
    failure = parse_failure(WHERE, 400, _envelope("", "Invalid property 'emailaddress9'"), {})
    assert failure.code is None
    assert str(translate(failure)) == "dyn: contacts: Dataverse answered 400: Invalid property 'emailaddress9'"
    failure = parse_failure(WHERE, 400, b'{"error": {"code": null, "message": ""}}', {})
    assert (failure.code, failure.message) == (None, "(no message)")


def test_a_gateway_page_is_kept_short_and_stripped_and_retried() -> None:
    page = "  <html><body>" + "Bad Gateway " * 40 + "</body></html>\n"
    failure = parse_failure(WHERE, 502, page.encode(), {})
    assert failure.code is None
    assert failure.message == page.strip()[:200]
    error = translate(failure)
    assert type(error) is TransientError
    assert str(error) == f"dyn: contacts: Dataverse answered 502: {page.strip()[:200]}"


def test_a_body_that_is_json_but_not_the_envelope_is_quoted_as_text() -> None:
    for body in ('{"error": "invalid_request"}', '["x"]', "not json at all {"):
        failure = parse_failure(WHERE, 400, body, {})
        assert failure.code is None
        assert str(translate(failure)) == f"dyn: contacts: Dataverse answered 400: {body}"


def test_a_body_in_bytes_that_is_not_utf8_is_read_not_refused() -> None:
    failure = parse_failure(WHERE, 500, b"Service \xff Unavailable", {})
    assert str(translate(failure)) == "dyn: contacts: Dataverse answered 500: Service \ufffd Unavailable"


def test_the_headers_travel_with_the_failure() -> None:
    headers = {"Retry-After": "3", "x-ms-ratelimit-burst-remaining-xrm-requests": "0"}
    failure = parse_failure(WHERE, 429, b"", headers)
    assert dict(failure.headers) == headers
    error = translate(failure)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 3.0
