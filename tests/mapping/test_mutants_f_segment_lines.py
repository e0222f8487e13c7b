"""Every way a segment condition can be refused, as an admin reads it: the file's line of the condition (or
of the key at fault), the path inside the segment, and the message with the choices spelled out.

The condition at fault is always the second of an ``all``, so that a problem reported at the segment's own
line (9), or at a path cut too short (``segment.all``), cannot pass for the right one (12).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError
from campaign_bridge.mapping.segment import evaluate, parse_segment

HEAD = """\
client: x
connections:
  crm: {type: memory-crm}
  ma: {type: memory-ma}
rules:
  - name: a
    from:
      connection: ma
      segment:
        all:
          - {field: score, gte: 50}
"""  # line 9 is "segment:"; the condition under test starts on line 12
TAIL = "    to: {connection: crm, campaign: C, status: Sent}\n"
RULE = "c.yaml:{line}: rule 'a' from: "
OPS = "eq, ne, lt, lte, gt, gte, in, not_in, contains, exists, within, not_within"
FIELDS = "email, first_name, last_name, company, lifecycle_stage, lead_status, owner, country, score, grade, created_at"


def _problems(condition: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config_text(HEAD + f"          - {condition}\n" + TAIL, "c.yaml")
    return [str(p) for p in refused.value.problems]


@pytest.mark.parametrize(
    ("condition", "says"),
    [
        ('{field: email, exists: "yes"}', "segment.all[1].exists: expected true or false"),
        ("{field: score, within: 30d}", "segment.all[1]: 'within' needs a date field; 'score' is a number"),
        ("{field: score, contains: x}", "segment.all[1]: 'contains' needs a text field; 'score' is a number"),
        (
            "{field: hard_bounced, lt: true}",
            "segment.all[1]: 'lt' compares numbers, dates or text; 'hard_bounced' is true or false",
        ),
        ("{field: country, in: []}", "segment.all[1].in: expected a non-empty list of values"),
        ("{field: country, in: US}", "segment.all[1].in: expected a non-empty list of values"),
        (
            "{all: [{field: score, gte: 1}], field: score}",
            "segment.all[1]: 'all' stands alone; nest other conditions inside it",
        ),
        ("{any: []}", "segment.all[1].any: expected a non-empty list of conditions"),
        ("{any: {field: score, gte: 1}}", "segment.all[1].any: expected a non-empty list of conditions"),
        (
            "{not: {field: score, gte: 1}, field: score}",
            "segment.all[1]: 'not' stands alone; nest other conditions inside it",
        ),
        ("{eq: 1}", "segment.all[1]: expected 'field' with one operator, or 'all', 'any' or 'not'"),
        (
            "{field: score, gte: 1, lte: 5}",
            f"segment.all[1]: give exactly one operator for field 'score' (one of {OPS})",
        ),
    ],
)
def test_a_refused_condition_is_reported_at_its_own_line_and_path(condition: str, says: str) -> None:
    assert _problems(condition) == [RULE.format(line=12) + says]


def test_an_empty_all_is_refused_rather_than_matching_everyone() -> None:
    text = HEAD.replace("          - {field: score, gte: 50}\n", "") + "          []\n" + TAIL
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, "c.yaml")
    assert [str(p) for p in refused.value.problems] == [
        "c.yaml:10: rule 'a' from: segment.all: expected a non-empty list of conditions"
    ]


def test_a_problem_inside_a_not_names_the_not_in_its_path() -> None:
    (problem,) = _problems("{not: {field: nope, eq: 1}}")
    assert problem.startswith(
        RULE.format(line=12) + f"segment.all[1].not.field: unknown field 'nope'; known fields: {FIELDS},"
    )


def test_an_unknown_field_is_reported_at_the_line_of_its_field_key_listing_the_known_ones() -> None:
    (problem,) = _problems("\n            eq: 1\n            field: nope")
    assert problem.startswith(
        RULE.format(line=14) + f"segment.all[1].field: unknown field 'nope'; known fields: {FIELDS},"
    )
    assert problem.endswith(", opportunity_stage, last_purchase_at")


def test_an_unknown_operator_is_reported_at_the_line_of_its_key_listing_the_known_ones() -> None:
    assert _problems("\n            field: score\n            above: 1") == [
        RULE.format(line=14) + f"segment.all[1]: unknown operator 'above'; use one of {OPS}"
    ]


def test_a_date_marked_utc_with_z_is_accepted_and_read_as_that_midnight_in_utc() -> None:
    # every translation (SOQL, OData, HubSpot's milliseconds) reads the value as text with Z meaning UTC
    load_config_text(HEAD + "          - {field: created_at, gte: 2026-01-31Z}\n" + TAIL, "c.yaml")
    segment = parse_segment({"field": "created_at", "gte": "2026-01-31Z"})
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert evaluate(segment, {"created_at": "2026-01-31T00:00:00Z"}, now)
    assert not evaluate(segment, {"created_at": "2026-01-30T23:59:59Z"}, now)
    assert not evaluate(segment, {"created_at": "2026-01-31T00:30:00+01:00"}, now)  # 23:30 UTC the day before
