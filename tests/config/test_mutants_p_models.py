"""Durations as ``validate`` reads them: the whole message an admin sees for one out of range, leading zeros
read as the number they pad, and how far a staging deployment may lower the schedule's floor.

Beside ``test_durations.py`` (which checks the ranges) so that a mutation run of ``config/models.py`` reaches
these first.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import HARD_MIN_EVERY, MIN_EVERY_ENV, ClientConfig
from campaign_bridge.errors import ConfigError, Problem

HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\ndefaults:\n"  # 5 lines


def _load(defaults: str) -> ClientConfig:
    return load_config_text(HEAD + "  " + defaults + "\n", "c.yaml", environ={})


def _refused(defaults: str) -> tuple[Problem, ...]:
    with pytest.raises(ConfigError) as refused:
        _load(defaults)
    return refused.value.problems


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ("full_read_every: 0s", "defaults.full_read_every: '0s' is too short for full_read_every: the shortest is 1m"),
        ("full_read_every: 32d", "defaults.full_read_every: '32d' is too long for full_read_every: the longest is 31d"),
        ("lookback: 10d", "defaults.lookback: '10d' is too long for the look-back: the longest is 7d"),
        ("lookback: 8D", "defaults.lookback: '8D' is too long for the look-back: the longest is 7d"),
        (
            "schedule: {every: 59s}",
            "defaults.schedule.every: '59s' is too short for a schedule: the shortest is 1m (a rule runs at most "
            "once every 1m: each run spends the systems' daily API allowance)",
        ),
    ],
)
def test_a_duration_out_of_range_is_refused_with_the_whole_message_at_its_line(defaults: str, message: str) -> None:
    assert _refused(defaults) == (Problem("c.yaml", 6, message),)


def test_leading_zeros_pad_a_duration_without_making_it_longer() -> None:
    padded = "0" * 20 + "7d"
    assert _load(f"lookback: {padded}").defaults.lookback == padded
    assert _refused("lookback: " + "0" * 20 + "8d") == (
        Problem("c.yaml", 6, f"defaults.lookback: '{'0' * 20}8d' is too long for the look-back: the longest is 7d"),
    )


def test_a_staging_deployment_may_lower_the_floor_to_exactly_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIN_EVERY_ENV, HARD_MIN_EVERY)
    assert _load("schedule: {every: 1s}").defaults.schedule.every == "1s"
    [problem] = _refused("schedule: {every: 0s}")
    assert problem.message.startswith("defaults.schedule.every: '0s' is too short for a schedule: the shortest is 1s (")
