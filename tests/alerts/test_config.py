"""The ``alerts:`` section as ``validate`` reads it: secrets only from the environment, URLs Apprise can use."""

from __future__ import annotations

import logging

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.errors import ConfigError

BASE = """\
client: acme
connections:
  crm: {type: memory-crm}
  ma: {type: memory-ma}
rules:
  - name: webinar
    from: {connection: crm, campaign: Webinar}
    to: {connection: ma, list: Nurture}
alerts:
"""


def _load(alerts: str, env: dict[str, str] | None = None) -> object:
    return load_config_text(BASE + alerts, "acme.yaml", env or {})


def _problems(alerts: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(alerts, env)
    return str(caught.value)


def test_targets_whose_secrets_come_from_the_environment_load_with_their_thresholds() -> None:
    config = _load(
        """\
  targets:
    - "json://alice:${HOOK_PASSWORD}@hooks.example.com/alerts"
    - "mailto://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com?to=ops@example.com"
    - "slack://${SLACK_TOKENS}/#ops"
  failed_runs: 5
  api_allowance: 90 %
  drift: false
""",
        {
            "HOOK_PASSWORD": "h00k-pass",
            "SMTP_USER": "bob",
            "SMTP_PASSWORD": "smtp-pass",
            "SLACK_TOKENS": "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        },
    )
    alerts = config.alerts  # type: ignore[attr-defined]
    assert len(alerts.targets) == 3
    assert (alerts.failed_runs, alerts.allowance_share, alerts.drift, alerts.held_plans) == (5, 0.9, False, True)
    assert "h00k-pass" not in repr(config)  # the URLs are SecretStr


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ('"json://alice:written-here@hooks.example.com/alerts"', "JSON"),
        ('"slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops"', "Slack"),
        ('"json://hooks.example.com/alerts?+Authorization=Bearer%20written-here"', "JSON"),
        # a variable for the host does not excuse a password written beside it
        ('"mailto://bob:written-here@${SMTP_HOST}?to=ops@example.com"', "E-Mail"),
    ],
)
def test_a_secret_written_in_the_file_is_refused_at_its_line_without_being_echoed(target: str, what: str) -> None:
    message = _problems(f"  targets:\n    - {target}\n", {"SMTP_HOST": "smtp.example.com"})
    assert f"acme.yaml:11: alerts.targets[0] ({what})" in message
    assert "written in the file" in message
    for secret in ("written-here", "TIiajkdnlazkcOXrIdevi7FQ"):
        assert secret not in message


def test_urls_apprise_cannot_use_are_named_with_a_hint_and_never_quoted() -> None:
    message = _problems(
        """\
  targets:
    - "jsn://hooks.example.com/${TOKEN}"
    - "no url here"
""",
        {"TOKEN": "tok-123456"},
    )
    assert "acme.yaml:11: alerts.targets[0]: Apprise knows no 'jsn://' service; did you mean 'json://'?" in message
    assert "acme.yaml:12: alerts.targets[1]: not a notification URL" in message
    assert "tok-123456" not in message
    assert "no url here" not in message


def test_thresholds_out_of_range_and_unknown_keys_are_refused() -> None:
    message = _problems(
        """\
  targets: ["json://hooks.example.com/alerts"]
  api_allowance: 180%
  failed_runs: 0
  when_it_rains: true
"""
    )
    assert "alerts.api_allowance: write a share of the daily allowance from 1% to 100%" in message
    assert "alerts.failed_runs: Input should be greater than or equal to 1" in message
    assert "unknown key 'when_it_rains' in alerts" in message


def test_a_section_without_targets_is_refused() -> None:
    assert "alerts.targets" in _problems("  failed_runs: 3\n")


def test_apprise_says_nothing_of_a_url_while_the_file_is_read(caplog: pytest.LogCaptureFixture) -> None:
    """Apprise explains a bad URL by quoting its parts (masked to their first and last characters): the
    check says what is wrong without them, so Apprise's lines are dropped while the file is read."""
    caplog.set_level(logging.DEBUG)
    message = _problems(
        '  targets: ["mailto://bob:${PW}@?to=ops", "slack://${PW}/#ops"]\n', {"PW": "Hunter2-secret-XyZ"}
    )
    assert "Apprise cannot use this mailto:// URL" in message
    assert "Apprise cannot use this slack:// URL" in message
    apprise_lines = [r.getMessage() for r in caplog.records if r.name.startswith("apprise")]
    assert not any("H...Z" in line or "Hunter2" in line for line in apprise_lines), apprise_lines
