"""The masks: every secret of a client file in every form, and Apprise's partial masks in its own lines."""

from __future__ import annotations

import base64
import logging

import pytest

from campaign_bridge.alerts.redact import Redactor, config_secrets, install_log_filter
from campaign_bridge.config.loader import load_config_text

CLIENT = """\
client: acme
connections:
  crm: {type: memory-crm}
  hs: {type: hubspot, auth: {method: private_app, token: "${HS_TOKEN}"}}
rules: []
alerts:
  targets: ["json://cb:${HOOK_PASSWORD}@hooks.example.com/alerts", "slack://${SLACK}/#ops"]
"""
ENV = {
    "HS_TOKEN": "pat-na1-0123-token",
    "HOOK_PASSWORD": "p%40ss%20word%2F7",  # URL-encoded in the environment, as a URL needs it
    "SLACK": "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
}


def test_every_secret_of_the_file_is_masked_as_written_encoded_and_in_a_basic_credential() -> None:
    config = load_config_text(CLIENT, "acme.yaml", ENV)
    redact = Redactor(config_secrets(config))
    basic = base64.b64encode(b"cb:p@ss word/7").decode()
    text = (
        f"token pat-na1-0123-token; password p@ss word/7 or p%40ss%20word%2F7 or p%40ss+word%2F7; "
        f"Authorization: Basic {basic}; slack TIiajkdnlazkcOXrIdevi7FQ and A1BRTD4JD"
    )
    masked = redact(text)
    for secret in ("pat-na1-0123-token", "p@ss word/7", "p%40ss", basic, "TIiajkdnlazkcOXrIdevi7FQ", "A1BRTD4JD"):
        assert secret not in masked
    assert masked.startswith("token ****; password **** or **** or ****; Authorization: Basic ****;")


def test_apprise_lines_lose_registered_secrets_and_their_partial_masks(caplog: pytest.LogCaptureFixture) -> None:
    install_log_filter(["Zq9-secret-token-Zq9"])
    caplog.set_level(logging.DEBUG, logger="apprise")
    apprise_log = logging.getLogger("apprise")
    apprise_log.warning("Failed to send to https://hooks.example.com/?token=%s", "Zq9-secret-token-Zq9")
    apprise_log.error("Could not load Slack URL: slack://T...2/A...D/T...Q/%23ops/")
    lines = [r.getMessage() for r in caplog.records if r.name == "apprise"]
    assert lines == [
        "Failed to send to https://hooks.example.com/?token=****",
        "Could not load Slack URL: slack://****/****/****/%23ops/",
    ]
