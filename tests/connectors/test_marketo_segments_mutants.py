"""Marketo segments: the activity window and types a segment asks Marketo for, the lead fields it reads,
who is selected and with which stamp, and, for a segment that is one activity window, its changes since a
watermark. Marketo's feed and lead reads are recorded stand-ins here, so the calls a segment makes are
seen exactly (marketo/segments.py); tests/connectors/test_marketo_translation.py covers the same over HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_bridge.connectors.marketo import segments
from campaign_bridge.connectors.marketo.activities import Activity
from campaign_bridge.errors import FatalError
from campaign_bridge.mapping.model import MemberRecord, PersonRecord, RecordRef
from campaign_bridge.mapping.segment import parse_segment

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
VISIT, FORM, CLICK_LINK, OPEN, CLICK = 1, 2, 3, 10, 11
DAY = timedelta(days=1)


def _plan(segment: dict[str, Any]) -> tuple[timedelta, tuple[int, ...]]:
    return segments.plan(parse_segment(segment))


@pytest.mark.parametrize(
    ("segment", "window", "types"),
    [
        ({"field": "last_email_click_at", "within": "30d"}, 30 * DAY, (CLICK,)),
        ({"field": "last_email_open_at", "within": "2w"}, 14 * DAY, (OPEN,)),
        ({"field": "last_page_visited_at", "within": "12h"}, timedelta(hours=12), (VISIT,)),
        ({"field": "last_activity_at", "within": "7d"}, 7 * DAY, (VISIT, FORM, CLICK_LINK, OPEN, CLICK)),
        # every window the segment names is read whole, so a second window is exact
        (
            {
                "all": [
                    {"field": "last_page_visited_at", "within": "30d"},
                    {"field": "last_email_click_at", "not_within": "40d"},
                ]
            },
            40 * DAY,
            (VISIT, CLICK),
        ),
        # a named form needs the form activities even when no form window is named
        (
            {
                "all": [
                    {"field": "last_email_click_at", "within": "5d"},
                    {"field": "last_form_submitted", "eq": "Signup"},
                ]
            },
            5 * DAY,
            (FORM, CLICK),
        ),
        (
            {
                "all": [
                    {"field": "last_email_click_at", "within": "5d"},
                    {"field": "last_page_visited", "contains": "pricing"},
                ]
            },
            5 * DAY,
            (VISIT, CLICK),
        ),
        # any of two windows: each branch has a driver, the wider one is read
        (
            {
                "any": [
                    {"field": "last_email_click_at", "within": "3d"},
                    {"field": "last_email_open_at", "within": "9d"},
                ]
            },
            9 * DAY,
            (OPEN, CLICK),
        ),
        # all: the narrowest driver is enough to find every member, but every window is read
        (
            {"all": [{"field": "last_email_click_at", "within": "3d"}, {"field": "score", "gte": 10}]},
            3 * DAY,
            (CLICK,),
        ),
    ],
)
def test_the_activities_a_segment_reads(segment: dict[str, Any], window: timedelta, types: tuple[int, ...]) -> None:
    assert _plan(segment) == (window, types)


REFUSED_DRIVER = (
    "this segment selects no activity within a window (such as {field: last_email_click_at, within: 30d}), "
    "so Marketo would have to list every lead; build it as a smart list in Marketo and use the smart "
    "list as the rule's source (from: {list: <smart list name>})"
)


@pytest.mark.parametrize(
    "segment",
    [
        {"field": "score", "gte": 50},
        {"field": "last_email_click_at", "not_within": "60d"},
        {"not": {"field": "last_email_click_at", "within": "60d"}},
        {"any": [{"field": "last_email_click_at", "within": "7d"}, {"field": "score", "gte": 50}]},
        {"any": [{"field": "score", "gte": 50}, {"field": "last_email_click_at", "within": "7d"}]},
        {"all": [{"field": "score", "gte": 50}, {"field": "company", "eq": "Acme"}]},
    ],
)
def test_a_segment_without_an_activity_driver_is_refused_with_the_smart_list_alternative(
    segment: dict[str, Any],
) -> None:
    with pytest.raises(FatalError) as caught:
        _plan(segment)
    assert str(caught.value) == REFUSED_DRIVER


@pytest.mark.parametrize("op", [{"gte": "2026-01-01"}, {"exists": True}, {"lt": "2026-01-01"}])
def test_an_activity_date_compared_otherwise_than_by_window_is_refused(op: dict[str, Any]) -> None:
    segment = {"all": [{"field": "last_email_open_at", "within": "7d"}, {"field": "last_email_click_at", **op}]}
    with pytest.raises(FatalError) as caught:
        _plan(segment)
    assert (
        str(caught.value) == "last_email_click_at can only be used with within/not_within on Marketo (activity dates)"
    )


def test_more_activity_types_than_marketo_takes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "MAX_TYPES", 4)
    with pytest.raises(FatalError) as caught:
        _plan({"field": "last_activity_at", "within": "7d"})
    assert str(caught.value) == "a Marketo segment may read at most 4 activity types"
    monkeypatch.setattr(segments, "MAX_TYPES", 5)
    assert _plan({"field": "last_activity_at", "within": "7d"})[1] == (VISIT, FORM, CLICK_LINK, OPEN, CLICK)


@pytest.mark.parametrize(
    ("segment", "lapse"),
    [
        ({"field": "last_email_click_at", "within": "30d"}, 30 * DAY),
        ({"field": "last_email_click_at", "not_within": "30d"}, None),
        ({"field": "score", "gte": 5}, None),
        ({"all": [{"field": "last_email_click_at", "within": "30d"}]}, None),
    ],
)
def test_only_a_single_activity_window_is_read_for_its_changes(
    segment: dict[str, Any], lapse: timedelta | None
) -> None:
    assert segments.lapse(parse_segment(segment)) == lapse


class FakeMarketo:
    """Marketo's activities and leads, with the reads a segment asked for."""

    def __init__(self, activities: list[Activity], leads: dict[str, dict[str, Any]]) -> None:
        self.activities, self.leads = activities, leads
        self.calls: list[tuple[Any, ...]] = []

    def window(
        self, client: Any, connection: str, since: datetime, until: datetime, types: tuple[int, ...]
    ) -> Iterator[Activity]:
        self.calls.append(("window", since, until, types))
        return iter([a for a in self.activities if a.type_id in types and since <= a.at <= until])

    def feed(self, client: Any, since: datetime, types: tuple[int, ...]) -> Iterator[Activity]:
        self.calls.append(("feed", since, types))
        return iter([a for a in self.activities if a.type_id in types and since <= a.at])

    def by_ids(
        self, client: Any, connection: str, ids: Sequence[str], fields: str = "id,email"
    ) -> dict[str, dict[str, Any]]:
        self.calls.append(("by_ids", list(ids), fields))
        return {i: self.leads[i] for i in ids if i in self.leads}


def _act(lead: int, type_id: int, ago: timedelta, primary: str | None = None) -> Activity:
    return Activity(1, str(lead), NOW - ago, type_id, "", primary)


@pytest.fixture
def marketo(monkeypatch: pytest.MonkeyPatch) -> FakeMarketo:
    fake = FakeMarketo([], {})
    monkeypatch.setattr(segments, "window_feed", fake.window)
    monkeypatch.setattr(segments, "feed", fake.feed)
    monkeypatch.setattr(segments, "by_ids", fake.by_ids)
    return fake


def _read(segment: dict[str, Any], since: datetime | None = None) -> list[MemberRecord]:
    return list(segments.read(None, "mk", parse_segment(segment), NOW, since))  # type: ignore[arg-type]


def _lead(lead: int, **fields: Any) -> dict[str, Any]:
    return {"id": lead, "email": f"L{lead}@Example.com", **fields}


LEAD_FIELDS = "id,email,firstName,lastName,company,country,leadStatus,leadScore,createdAt"


def test_a_window_reads_its_activities_then_the_candidates_lead_fields(marketo: FakeMarketo) -> None:
    marketo.activities = [_act(12, CLICK, 2 * DAY), _act(3, CLICK, 1 * DAY), _act(12, CLICK, 5 * DAY)]
    marketo.leads = {"3": _lead(3, leadScore=80), "12": _lead(12, leadScore=10)}
    found = _read({"all": [{"field": "last_email_click_at", "within": "7d"}, {"field": "score", "gte": 50}]})
    assert marketo.calls == [("window", NOW - 7 * DAY, NOW, (CLICK,)), ("by_ids", ["3", "12"], LEAD_FIELDS)]
    assert found == [
        MemberRecord(PersonRecord(RecordRef("mk", "lead", "3"), "l3@example.com"), modified_at=NOW - DAY, tie_id="3")
    ]


def test_members_are_stamped_with_their_newest_named_activity_in_lead_id_order(marketo: FakeMarketo) -> None:
    marketo.activities = [
        _act(12, CLICK, 2 * DAY),
        _act(12, CLICK, 5 * DAY),  # read after the newer one: the newer one stays
        _act(3, VISIT, 6 * DAY),
        _act(3, VISIT, 1 * DAY),
        _act(3, OPEN, timedelta(hours=2)),  # an open: not a field this segment names
    ]
    marketo.leads = {"3": _lead(3), "12": _lead(12)}
    found = _read(
        {"any": [{"field": "last_email_click_at", "within": "7d"}, {"field": "last_page_visited_at", "within": "7d"}]}
    )
    assert [(m.tie_id, m.modified_at) for m in found] == [("3", NOW - DAY), ("12", NOW - 2 * DAY)]


def test_the_latest_named_form_is_the_one_compared(marketo: FakeMarketo) -> None:
    marketo.activities = [
        _act(1, FORM, 4 * DAY, "Webinar signup"),
        _act(1, FORM, 1 * DAY, "Newsletter"),
        _act(2, FORM, 3 * DAY, "Newsletter"),
        _act(2, FORM, 2 * DAY, "Webinar signup"),
        _act(2, VISIT, 1 * DAY, "/pricing"),
    ]
    marketo.leads = {"1": _lead(1), "2": _lead(2)}
    segment = {
        "all": [
            {"field": "last_form_submitted_at", "within": "7d"},
            {"field": "last_form_submitted", "eq": "Webinar signup"},
        ]
    }
    assert [m.tie_id for m in _read(segment)] == ["2"]
    assert marketo.calls[0] == ("window", NOW - 7 * DAY, NOW, (FORM,))


def test_two_activities_at_the_same_moment_count_and_a_deleted_lead_is_skipped(marketo: FakeMarketo) -> None:
    marketo.activities = [_act(1, VISIT, 3 * DAY), _act(1, CLICK, 3 * DAY), _act(2, CLICK, DAY)]
    marketo.leads = {"1": _lead(1)}  # 2 was deleted since its click
    found = _read({"field": "last_activity_at", "within": "7d"})
    assert [(m.tie_id, m.modified_at) for m in found] == [("1", NOW - 3 * DAY)]


def test_candidates_are_fetched_300_at_a_time(marketo: FakeMarketo) -> None:
    marketo.activities = [_act(i, CLICK, DAY) for i in range(1, 302)]
    marketo.leads = {str(i): _lead(i) for i in range(1, 302)}
    found = _read({"field": "last_email_click_at", "within": "7d"})
    assert len(found) == 301
    batches = [c[1] for c in marketo.calls if c[0] == "by_ids"]
    assert batches == [[str(i) for i in range(1, 301)], ["301"]]


def test_changes_since_a_watermark_come_from_the_feed_and_say_who_left(marketo: FakeMarketo) -> None:
    since = NOW - 40 * DAY
    marketo.activities = [
        _act(5, CLICK, 35 * DAY),  # clicked since the watermark but before the window: left
        _act(7, CLICK, 2 * DAY),  # still in
        _act(9, CLICK, 3 * DAY),  # deleted since
        _act(4, CLICK, 2 * DAY),  # same stamp as 7: ordered by lead id
    ]
    marketo.leads = {"5": _lead(5), "7": _lead(7), "4": _lead(4)}
    found = _read({"field": "last_email_click_at", "within": "30d"}, since=since)
    assert marketo.calls == [("feed", since, (CLICK,)), ("by_ids", ["4", "5", "7", "9"], "id,email")]
    assert found == [
        MemberRecord(
            PersonRecord(RecordRef("mk", "lead", "5"), "l5@example.com"),
            modified_at=NOW - 35 * DAY,
            removed=True,
            tie_id="5",
        ),
        MemberRecord(
            PersonRecord(RecordRef("mk", "lead", "9"), None, deleted=True),
            modified_at=NOW - 3 * DAY,
            removed=True,
            tie_id="9",
        ),
        MemberRecord(
            PersonRecord(RecordRef("mk", "lead", "4"), "l4@example.com"),
            modified_at=NOW - 2 * DAY,
            removed=False,
            tie_id="4",
        ),
        MemberRecord(
            PersonRecord(RecordRef("mk", "lead", "7"), "l7@example.com"),
            modified_at=NOW - 2 * DAY,
            removed=False,
            tie_id="7",
        ),
    ]


def test_changes_are_refused_for_a_segment_that_is_not_one_window(marketo: FakeMarketo) -> None:
    segment = {"all": [{"field": "last_email_click_at", "within": "30d"}, {"field": "score", "gte": 5}]}
    with pytest.raises(FatalError) as caught:
        _read(segment, since=NOW - DAY)
    assert str(caught.value) == "only a segment that is one activity window can be read for its changes on Marketo"
    assert marketo.calls == []


def test_a_lead_field_window_does_not_widen_the_activity_read() -> None:
    segment = {"all": [{"field": "last_email_click_at", "within": "7d"}, {"field": "created_at", "within": "90d"}]}
    assert _plan(segment) == (7 * DAY, (CLICK,))


def test_an_activity_of_one_type_stamps_only_its_own_fields(marketo: FakeMarketo) -> None:
    marketo.activities = [_act(1, CLICK, DAY), _act(2, CLICK, DAY), _act(2, VISIT, 2 * DAY)]
    marketo.leads = {"1": _lead(1), "2": _lead(2)}
    segment = {
        "all": [
            {"field": "last_email_click_at", "within": "7d"},
            {"not": {"field": "last_page_visited_at", "within": "7d"}},
        ]
    }
    assert [m.tie_id for m in _read(segment)] == ["1"]


def test_a_deleted_lead_does_not_hide_the_candidates_after_it(marketo: FakeMarketo) -> None:
    marketo.activities = [_act(1, CLICK, DAY), _act(2, CLICK, DAY), _act(3, CLICK, DAY)]
    marketo.leads = {"2": _lead(2), "3": _lead(3)}  # 1 was deleted since its click
    assert [m.tie_id for m in _read({"field": "last_email_click_at", "within": "7d"})] == ["2", "3"]
