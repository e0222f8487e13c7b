"""What ``validate`` says of each alert target, at its line: usable and secret-free targets load, the others
are named by their place and service, the URL never quoted.

``tests/alerts/test_config.py`` says the same through the alert service's suite; these tests sit beside the
loader's so that a mutation run of ``config/alerts.py`` reaches them first.
"""

from __future__ import annotations

import pytest

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import ConfigError, Problem

HEAD = (
    "client: acme\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\nalerts:\n  targets:\n"  # 6 lines
)

WRITTEN = (
    "a secret of this URL (its password, token, key or header) is written in the file; write ${SOME_NAME} there "
    "and set SOME_NAME in the environment"
)


def _load(targets: str, environ: dict[str, str] | None = None) -> ClientConfig:
    return load_config_text(HEAD + targets, "acme.yaml", environ=environ or {})


def _problems(targets: str, environ: dict[str, str] | None = None) -> tuple[Problem, ...]:
    with pytest.raises(ConfigError) as refused:
        _load(targets, environ)
    return refused.value.problems


def test_targets_whose_secrets_come_from_the_environment_load() -> None:
    config = _load(
        '    - "json://alice:${HOOK_PASSWORD}@hooks.example.com/alerts"\n'
        '    - "mailto://bob:${SMTP_PASSWORD}@smtp.example.com?to=ops@example.com"\n'
        '    - "json://hooks.example.com/alerts"\n',
        {"HOOK_PASSWORD": "h00k-pass", "SMTP_PASSWORD": "smtp-pass"},
    )
    assert config.alerts is not None
    assert len(config.alerts.targets) == 3


def test_a_secret_written_in_the_file_is_refused_at_its_line_naming_only_the_targets_place_and_service() -> None:
    problems = _problems(
        '    - "json://alice:${HOOK_PASSWORD}@hooks.example.com/alerts"\n'
        '    - "mailto://bob:written-here@smtp.example.com?to=ops@example.com"\n'
        '    - "json://hooks.example.com/alerts?+Authorization=Bearer%20written-too"\n',
        {"HOOK_PASSWORD": "h00k-pass"},
    )
    assert problems == (
        Problem("acme.yaml", 8, f"alerts.targets[1] (E-Mail): {WRITTEN}"),
        Problem("acme.yaml", 9, f"alerts.targets[2] (JSON): {WRITTEN}"),
    )


def test_a_secret_from_the_environment_does_not_excuse_one_written_beside_it() -> None:
    problems = _problems(
        '    - "mailto://${SMTP_USER}:written-here@smtp.example.com?to=ops@example.com"\n', {"SMTP_USER": "bob"}
    )
    assert problems == (Problem("acme.yaml", 7, f"alerts.targets[0] (E-Mail): {WRITTEN}"),)


def test_every_target_apprise_cannot_use_is_named_at_its_line_and_the_usable_ones_pass() -> None:
    problems = _problems(
        '    - "jsn://hooks.example.com/alerts"\n    - "json://hooks.example.com/alerts"\n    - "no url here"\n'
    )
    assert problems == (
        Problem("acme.yaml", 7, "alerts.targets[0]: Apprise knows no 'jsn://' service; did you mean 'json://'?"),
        Problem(
            "acme.yaml", 9, "alerts.targets[2]: not a notification URL (write e.g. mailto://…, json://…, slack://…)"
        ),
    )
