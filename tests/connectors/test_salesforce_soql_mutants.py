"""SOQL text as Salesforce receives it: the datetime and date literals of a window (in UTC, rounded so a
bound never excludes what it should include), the moments Salesforce answers with, the SELECT a read
sends and the slices an IN list is cut into (salesforce/soql.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from campaign_bridge.connectors.salesforce.soql import (
    as_utc,
    chunks,
    first_day_at_or_after,
    parse_sf_datetime,
    select,
    soql_date,
    soql_datetime,
    soql_escape,
    soql_in,
    soql_like_contains,
)

PARIS = timezone(timedelta(hours=2))


def test_a_moment_is_read_in_utc_and_a_naive_one_as_utc() -> None:
    assert as_utc(datetime(2026, 5, 1, 12, 0)) == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert as_utc(datetime(2026, 5, 1, 12, 0)).tzinfo is UTC
    converted = as_utc(datetime(2026, 5, 1, 12, 0, tzinfo=PARIS))
    assert (converted.hour, converted.tzinfo) == (10, UTC)


@pytest.mark.usefixtures("tokyo_server")
def test_a_naive_moment_is_utc_whatever_the_servers_zone() -> None:
    # a window's bound built from a rule's date: read as local time it would move nine hours
    assert as_utc(datetime(2026, 5, 1, 12, 0)) == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert soql_datetime(datetime(2026, 5, 1, 12, 0)) == "2026-05-01T12:00:00Z"
    assert soql_datetime(datetime(2026, 5, 1, 12, 0, tzinfo=PARIS)) == "2026-05-01T10:00:00Z"


def test_a_datetime_literal_is_written_in_utc_to_the_second() -> None:
    assert soql_datetime(datetime(2026, 5, 1, 12, 0, 5, tzinfo=PARIS)) == "2026-05-01T10:00:05Z"
    # a whole second is not rounded up: the bound stays on it
    assert soql_datetime(datetime(2026, 5, 1, 10, 0, 5, tzinfo=UTC), round_up=True) == "2026-05-01T10:00:05Z"
    # a fraction rounds up to the next second, across a day's end too
    assert soql_datetime(datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC), round_up=True) == "2027-01-01T00:00:00Z"
    assert soql_datetime(datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == "2026-12-31T23:59:59Z"


def test_a_date_literal() -> None:
    assert soql_date(date(2026, 1, 5)) == "2026-01-05"


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 3, 1, tzinfo=UTC), date(2026, 3, 1)),
        (datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC), date(2026, 3, 2)),
        (datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), date(2026, 3, 2)),
        (datetime(2026, 3, 1, 2, 0, tzinfo=PARIS), date(2026, 3, 1)),  # midnight UTC
        (datetime(2026, 3, 1, 23, 30, tzinfo=PARIS), date(2026, 3, 2)),  # 21:30 UTC
        (datetime(2026, 3, 1, 10, 0), date(2026, 3, 2)),
    ],
)
def test_the_first_day_a_date_window_starts_on(moment: datetime, day: date) -> None:
    assert first_day_at_or_after(moment) == day


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-05-01T10:00:00.000+0000", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00.000+0200", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_a_salesforce_stamp_is_read_as_a_utc_moment(text: str | None, moment: datetime | None) -> None:
    parsed = parse_sf_datetime(text)
    assert parsed == moment
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_select_names_fields_object_filter_and_order() -> None:
    assert select(["Id", "Email"], "Contact") == "SELECT Id, Email FROM Contact"
    assert select(["Id"], "Lead", "IsConverted = false") == "SELECT Id FROM Lead WHERE IsConverted = false"
    assert select(["Id"], "Lead", order_by="Id") == "SELECT Id FROM Lead ORDER BY Id"
    assert select(["Id"], "Lead", "Email != null", "Id") == "SELECT Id FROM Lead WHERE Email != null ORDER BY Id"
    assert select(["Id"], "Lead", "", "") == "SELECT Id FROM Lead"


def test_an_in_list_is_cut_into_consecutive_slices() -> None:
    assert list(chunks(["a", "b", "c", "d", "e"], 2)) == [["a", "b"], ["c", "d"], ["e"]]
    assert list(chunks(["a", "b", "c", "d"], 2)) == [["a", "b"], ["c", "d"]]
    assert list(chunks(["a"], 200)) == [["a"]]
    assert list(chunks([], 200)) == []


def test_like_escapes_apply_only_to_like_patterns() -> None:
    assert soql_escape("50%_off's") == "50%_off\\'s"
    assert soql_escape("50%_off's", like=True) == "50\\%\\_off\\'s"
    assert soql_like_contains("o'b") == "'%o\\'b%'"


def test_an_in_list_quotes_each_value_in_order() -> None:
    assert soql_in(["o'b@x.com"]) == "('o\\'b@x.com')"
    assert soql_in(["b", "a", "b", "c"]) == "('b', 'a', 'c')"
    with pytest.raises(ValueError, match=r"^an IN list needs at least one value$"):
        soql_in(iter([]))
