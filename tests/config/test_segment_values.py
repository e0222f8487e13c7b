"""A segment's values are checked by their field's type when the file is read, each at its own line.

A date such as ``"yesterday"`` used to pass ``validate`` and then crash ``sync`` in the translation (a
traceback, and a run left ``running``); now ``validate`` refuses it with FILE:LINE, like any other problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError

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
"""  # the next condition is on line 12
TAIL = "    to: {connection: crm, campaign: C, status: Sent}\n"


def _file(condition: str) -> str:
    return HEAD + f"          - {condition}\n" + TAIL


def _refused(text: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, "c.yaml")
    return [str(p) for p in refused.value.problems]


def test_a_date_that_is_not_a_date_is_refused_by_validate_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(_file('{field: last_form_submitted_at, gte: "yesterday"}'))

    result = CliRunner().invoke(main, ["validate", str(path), "--offline"])

    assert result.exit_code == 2, result.output
    assert f"{path}:12: rule 'a' from: segment.all[1].gte: expected a date such as 2026-01-31" in result.output
    assert "got 'yesterday' (for a moment relative to now, use within or not_within)" in result.output


def test_sync_refuses_the_same_date_before_any_run_starts(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(
        _file('{field: last_form_submitted_at, gte: "yesterday"}').replace(
            "client: x\n", f"client: x\nstate: sqlite:///{tmp_path / 's.db'}\n"
        )
    )

    result = CliRunner().invoke(main, ["sync", str(path), "--json"])

    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, ValueError)  # it was a traceback from the translation
    assert f"{path}:13: rule 'a' from: segment.all[1].gte: expected a date" in result.output
    assert not (tmp_path / "s.db").exists()  # no run recorded, so none left 'running'


@pytest.mark.parametrize(
    ("condition", "says"),
    [
        ("{field: created_at, lt: 1700000000}", "segment.all[1].lt: expected a date"),
        ("{field: created_at, in: [2026-01-31, someday]}", "segment.all[1].in[1]: expected a date"),
        ("{field: score, gte: .nan}", "segment.all[1].gte: expected a number, got nan"),
        ("{field: score, lt: .inf}", "segment.all[1].lt: expected a number, got inf"),
        ("{field: score, contains: 5}", "'contains' needs a text field; 'score' is a number"),
        ("{field: hard_bounced, gt: false}", "'gt' compares numbers, dates or text; 'hard_bounced' is true or false"),
        ("{field: company, contains: ''}", "expected some text to look for, got '' (an empty one matches everyone)"),
        ("{field: last_activity_at, within: 0d}", "a window of 0d matches nobody (within) or everybody"),
        ("{field: last_activity_at, not_within: 3651d}", "window is longer than 3650d"),
    ],
)
def test_a_value_its_field_cannot_hold_is_refused_at_its_line(condition: str, says: str) -> None:
    [problem] = _refused(_file(condition))
    assert problem.startswith("c.yaml:12: rule 'a' from: ")
    assert says in problem


def test_every_bad_value_of_a_file_is_reported() -> None:
    text = _file('{field: created_at, gte: "last week"}') + (
        "  - name: b\n"
        "    from: {connection: ma, segment: {field: soft_bounce_count, gte: many}}\n"
        "    to: {connection: crm, campaign: C, status: Sent}\n"
    )
    problems = _refused(text)
    assert len(problems) == 2
    assert problems[0].startswith("c.yaml:12: ")
    assert problems[1].startswith("c.yaml:15: ")
    assert "expected a number, got 'many'" in problems[1]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2026-01-31", "2026-01-31"),  # unquoted: YAML reads a date
        ("2026-01-31T09:00:00Z", "2026-01-31T09:00:00+00:00"),  # unquoted: YAML reads a date-time
        ('"2026-01-31T09:00:00Z"', "2026-01-31T09:00:00Z"),
        ('" 2026-01-31 "', "2026-01-31"),
    ],
)
def test_iso_dates_and_date_times_are_accepted_as_iso_text(written: str, read: str) -> None:
    config = load_config_text(_file(f"{{field: created_at, gte: {written}}}"), "c.yaml")
    segment = config.rules[0].source.parsed_segment
    assert segment is not None
    assert segment.items[1].value == read  # type: ignore[union-attr]
