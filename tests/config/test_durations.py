"""Durations in a client file are refused outside sane ranges, at their line, before anything runs.

``schedule: {every: 0s}`` used to run a rule back to back (19 runs in 20 seconds), and
``lookback: 99999999999d`` crashed the loader with ``OverflowError``.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import MIN_EVERY_ENV, ClientConfig
from campaign_bridge.errors import ConfigError, Problem

HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\n"  # 4 lines
RULE = "rules:\n  - name: a\n    from: {connection: crm, campaign: C}\n    to: {connection: ma, list: L}\n"  # 4 lines


def _load(text: str) -> ClientConfig:
    return load_config_text(text, "c.yaml")


def _refused(text: str) -> Problem:
    with pytest.raises(ConfigError) as refused:
        _load(text)
    [problem] = refused.value.problems
    return problem


@pytest.mark.parametrize("every", ["0s", "59s", "0m", "0d"])
def test_a_schedule_more_often_than_once_a_minute_is_refused(every: str) -> None:
    problem = _refused(HEAD + f"defaults:\n  schedule: {{every: {every}}}\n")
    assert problem.line == 6
    assert f"'{every}' is too short for a schedule: the shortest is 1m" in problem.message


def test_a_rule_of_its_own_schedule_is_held_to_the_same_floor() -> None:
    problem = _refused(HEAD + RULE + "    schedule: {every: 10s}\n")
    assert problem.line == 9
    assert "rule 'a' schedule.every: '10s' is too short for a schedule" in problem.message


def test_a_staging_deployment_may_lower_the_floor_but_never_below_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIN_EVERY_ENV, "5s")
    _load(HEAD + "defaults:\n  schedule: {every: 5s}\n")
    assert "the shortest is 5s" in _refused(HEAD + "defaults:\n  schedule: {every: 4s}\n").message
    monkeypatch.setenv(MIN_EVERY_ENV, "0s")  # ignored: a busy loop is never a schedule
    assert "the shortest is 1m" in _refused(HEAD + "defaults:\n  schedule: {every: 0s}\n").message


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ("lookback: 99999999999d", "'99999999999d' is too long for the look-back: the longest is 7d"),
        ("lookback: 8d", "'8d' is too long for the look-back"),
        ("full_read_every: 0s", "'0s' is too short for full_read_every: the shortest is 1m"),
        ("full_read_every: 99999w", "'99999w' is too long for full_read_every: the longest is 31d"),
        ("schedule: {every: 366d}", "'366d' is too long for a schedule: the longest is 365d"),
        ("schedule: {every: 99999999999999999999999d}", "is too long for a schedule"),
        # A superscript two passes str.isdigit but not float(): it used to be accepted, then crash the
        # scheduler when it turned the interval into seconds.
        ("schedule: {every: ²m}", "'²m' is not a duration; write e.g. 30s, 5m, 2h, 1d or 1w"),
    ],
)
def test_an_absurd_duration_is_refused_at_its_line(defaults: str, message: str) -> None:
    problem = _refused(HEAD + "defaults:\n  " + defaults + "\n")
    assert problem.line == 6
    assert message in problem.message


def test_an_absurd_segment_window_is_refused_at_its_line() -> None:
    text = (
        HEAD
        + "rules:\n  - name: a\n"
        + "    from: {connection: ma, segment: {field: last_activity_at, within: 99999999999d}}\n"
        + "    to: {connection: crm, campaign: C, status: Sent}\n"
    )
    problem = _refused(text)
    assert problem.line == 7
    assert "window is longer than 3650d" in problem.message


def test_durations_at_the_edges_of_their_ranges_are_accepted() -> None:
    config = _load(
        HEAD
        + "defaults:\n  schedule: {every: 1m}\n  lookback: 0s\n  full_read_every: 31d\n"
        + RULE
        + "    schedule: {every: 365D}\n"
        + "  - {name: b, from: {connection: crm, campaign: D}, to: {connection: ma, list: M}, schedule: {cron: '* * * * *'}}\n"
    )
    assert config.defaults.schedule.every == "1m"
    assert config.rules[0].schedule is not None
    assert config.rules[0].schedule.every == "365d"  # normalised, as the scheduler reads it
