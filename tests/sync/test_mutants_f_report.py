"""The run report as ``--json`` prints it: each stage's time in seconds, to the millisecond."""

from __future__ import annotations

from campaign_bridge.sync.plan import RunReport


def test_the_json_report_gives_each_stage_s_seconds_to_the_millisecond() -> None:
    report = RunReport("web", "sync", timings={"read": 12.34567, "write": 0.0004, "total": 13.0})
    assert report.as_json()["timings"] == {"read": 12.346, "write": 0.0, "total": 13.0}
