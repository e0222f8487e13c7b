"""Salesforce's translation as a reader of it notices: an incremental read since a watermark misses no
member stamped in the watermark's own second, and a quoted value matches exactly itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from simple_salesforce.exceptions import SalesforceOperationError

from campaign_bridge.connectors.base import Watermark
from campaign_bridge.connectors.salesforce import SalesforceConnector
from campaign_bridge.connectors.salesforce.errors import translate, translate_status
from campaign_bridge.connectors.salesforce.soql import first_day_at_or_after
from campaign_bridge.errors import FatalError, RateLimitedError, TransientError
from campaign_bridge.sandbox.salesforce import SalesforceSandbox


def test_an_incremental_read_includes_members_stamped_in_the_watermarks_second(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state, clock = sandbox.state, sandbox.state.clock
    cid = state.add_campaign("Webinar")
    state.add_member(cid, state.add_contact("before@x.com"))
    clock.tick(10)
    mark = clock()
    state.add_member(cid, state.add_contact("first@x.com"))
    state.add_member(cid, state.add_contact("second@x.com"))  # the same second
    container = conn.find_container("campaign", cid)

    rows = list(conn.read_members(container, since=Watermark(mark), until=mark + timedelta(seconds=30)))
    assert {r.person.email for r in rows} == {"first@x.com", "second@x.com"}

    # A watermark inside that second (a stamp with a fraction) still reads the whole second.
    rows = list(conn.read_members(container, since=Watermark(mark + timedelta(milliseconds=400))))
    assert {r.person.email for r in rows} == {"first@x.com", "second@x.com"}


def test_an_incremental_read_ends_at_its_until_bound_rounded_up_to_the_second(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state, clock = sandbox.state, sandbox.state.clock
    cid = state.add_campaign("Webinar")
    start = clock()
    clock.tick(0.2)
    state.add_member(cid, state.add_contact("in@x.com"))  # stamped within the until bound's second
    clock.tick(5)
    state.add_member(cid, state.add_contact("later@x.com"))
    container = conn.find_container("campaign", cid)
    rows = list(conn.read_members(container, since=Watermark(start), until=start + timedelta(milliseconds=300)))
    assert {r.person.email for r in rows} == {"in@x.com"}


def test_people_whose_emails_carry_soql_quote_characters_are_found_exactly(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    odd = ["o'brien@x.com", 'say"hi@x.com', "back\\slash@x.com"]
    ids = {email: state.add_contact(email) for email in odd}
    state.add_contact("obrien@x.com")
    found = conn.lookup_people([*odd, "nobody'@x.com"])
    assert {email: [r.ref.id for r in records] for email, records in found.items()} == {
        email: [ids[email]] for email in odd
    }


@pytest.mark.parametrize(
    ("status", "content", "kind", "says"),
    [
        (
            400,
            [{"message": "No such column 'Foo' on entity 'Contact'.", "errorCode": "INVALID_FIELD", "fields": []}],
            FatalError,
            "sf: Salesforce query answered 400 INVALID_FIELD: No such column 'Foo' on entity 'Contact'. The query "
            "names a field or object this org does not have, or is malformed.",
        ),
        (
            400,
            [{"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found"}],  # a composite result's form
            FatalError,
            "sf: Salesforce query answered 400 DUPLICATE_VALUE: duplicate value found.",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "authentication failure"},  # the OAuth form
            FatalError,
            "sf: Salesforce query answered 400 invalid_grant: authentication failure.",
        ),
        (
            404,
            {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"},
            FatalError,
            "sf: Salesforce query answered 404 NOT_FOUND: The requested resource does not exist.",
        ),
        (500, {"unexpected": True}, TransientError, "sf: Salesforce query answered 500: no details."),
        (
            403,
            [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
            RateLimitedError,
            "sf: Salesforce query answered 403 REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn Limit exceeded. "
            "(too many concurrent long-running requests in the org; retrying)",
        ),
    ],
)
def test_salesforces_error_bodies_become_the_error_and_message_a_user_reads(
    status: int, content: object, kind: type[Exception], says: str
) -> None:
    error = translate_status(status, content, connection="sf", endpoint="query")
    assert type(error) is kind
    assert str(error) == says


@pytest.mark.parametrize(
    ("start", "first_day"),
    [
        (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), date(2026, 1, 5)),  # a window starting at midnight holds that day
        (datetime(2026, 1, 5, 9, 0, tzinfo=UTC), date(2026, 1, 6)),  # any later start: the next day
        (datetime(2026, 1, 5, 0, 17, tzinfo=UTC), date(2026, 1, 6)),
        (datetime(2026, 1, 5, 0, 0, 23, tzinfo=UTC), date(2026, 1, 6)),
        (datetime(2026, 1, 5, 0, 0, 0, 500_000, tzinfo=UTC), date(2026, 1, 6)),
    ],
)
def test_a_date_only_field_is_in_a_window_only_for_days_wholly_inside_it(start: datetime, first_day: date) -> None:
    # LastActivityDate holds a day, not a moment: a day is inside "within" only when its midnight is.
    assert first_day_at_or_after(start) == first_day


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"<html><body>Service Unavailable</body></html>", "<html><body>Service Unavailable</body></html>"),
        (b"\xff\xfe broken bytes", "\ufffd\ufffd broken bytes"),
        ("  " + "x" * 300, "x" * 200),
        (None, "no details"),
        ([{"errorCode": "UNKNOWN_EXCEPTION"}], None),
    ],
)
def test_an_error_answer_that_is_not_salesforces_envelope_is_kept_short_and_readable(
    content: object, says: str | None
) -> None:
    error = translate_status(503, content, connection="sf", endpoint="query")
    assert type(error) is TransientError
    expected = (
        "sf: Salesforce query answered 503 UNKNOWN_EXCEPTION: no details."
        if says is None
        else (f"sf: Salesforce query answered 503: {says}.")
    )
    assert str(error) == expected


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (requests.Timeout("read timed out"), TransientError, "sf: Salesforce query timed out"),
        (requests.ConnectionError("reset"), TransientError, "sf: connection to Salesforce failed during query"),
        (
            SalesforceOperationError("Job 750xx failed: InvalidBatch"),
            FatalError,
            "sf: a Salesforce Bulk API job failed: Job 750xx failed: InvalidBatch",
        ),
        (KeyError("records"), TransientError, "sf: Salesforce query failed: KeyError"),
    ],
)
def test_a_failure_without_an_answer_names_the_connection_and_what_was_asked(
    exc: BaseException, kind: type[Exception], says: str
) -> None:
    error = translate(exc, connection="sf", endpoint="query")
    assert type(error) is kind
    assert str(error) == says


def test_people_whose_emails_hold_like_wildcards_are_found_exactly(
    sandbox: SalesforceSandbox, conn: SalesforceConnector
) -> None:
    state = sandbox.state
    ids = {email: state.add_contact(email) for email in ("first_last@x.com", "100%real@x.com")}
    state.add_contact("firstXlast@x.com")
    found = conn.lookup_people(list(ids))
    assert {email: [r.ref.id for r in records] for email, records in found.items()} == {
        email: [ident] for email, ident in ids.items()
    }


def test_a_refusal_raised_by_simple_salesforce_names_the_connection_and_endpoint() -> None:
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    body = [{"message": "unexpected token: FROM", "errorCode": "MALFORMED_QUERY"}]
    exc = SalesforceMalformedRequest("https://x/services/data/v59.0/query", 400, "query", body)  # type: ignore[arg-type]
    error = translate(exc, connection="sf", endpoint="query")
    assert str(error) == (
        "sf: Salesforce query answered 400 MALFORMED_QUERY: unexpected token: FROM. The query names a field or "
        "object this org does not have, or is malformed."
    )
