from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.alerts.receivers import Smtp, Webhook
from tests.service.helpers import Client

#: The secrets of the alert targets, set in the environment the client file takes them from.
HOOK_USER, HOOK_PASSWORD = "cb", "hook-pw-7Qz9"
SMTP_USER, SMTP_PASSWORD = "alerts", "smtp-pw-Xk42"
SECRETS = (HOOK_PASSWORD, SMTP_PASSWORD)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    yield c
    c.forget()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with Webhook() as w:
        yield w


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with Smtp(SMTP_USER, SMTP_PASSWORD) as s:
        yield s


@pytest.fixture
def alert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_PASSWORD", HOOK_PASSWORD)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)


def alerts_section(hook: Webhook, smtp: Smtp | None = None, **thresholds: object) -> str:
    """The client file's ``alerts:``: the webhook (JSON, Basic auth) and, if given, the SMTP server."""
    lines = [
        "alerts:",
        "  targets:",
        f'    - "json://{HOOK_USER}:${{HOOK_PASSWORD}}@127.0.0.1:{hook.port}/alerts"',
    ]
    if smtp is not None:
        lines.append(
            f'    - "mailto://{SMTP_USER}:${{SMTP_PASSWORD}}@127.0.0.1:{smtp.port}'
            '?to=ops@example.com&from=campaign-bridge@example.com&mode=insecure"'
        )
    lines.extend(f"  {k}: {v}" for k, v in thresholds.items())
    return "\n".join(lines) + "\n"


def encoded(secret: str) -> list[str]:
    """The forms a secret could leak in: as is, URL-encoded, base64 (alone and in a Basic credential)."""
    b64 = base64.b64encode(secret.encode()).decode()
    basic = base64.b64encode(f"{HOOK_USER}:{secret}".encode()).decode()
    return [secret, quote(secret, safe=""), quote_plus(secret), b64, b64.rstrip("="), basic]


def assert_no_secret(text: str | bytes, where: str) -> None:
    data = text.decode(errors="replace") if isinstance(text, bytes) else text
    for secret in SECRETS:
        for form in encoded(secret):
            assert form not in data, f"a secret ({form!r}) appears in {where}"


def assert_received_cleanly(hook: Webhook, smtp: Smtp | None = None) -> None:
    """No secret in anything the receivers got, except the credentials where they belong: the webhook's
    Basic header (checked to be exactly the configured one) and the SMTP login."""
    expected = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    for request in hook.requests:
        assert request.headers.get("Authorization") == expected
        rest = {k: v for k, v in request.headers.items() if k != "Authorization"}
        assert_no_secret(request.path + repr(rest) + request.body.decode(), "a webhook request")
    if smtp is not None:
        assert all(login == (SMTP_USER.encode(), SMTP_PASSWORD.encode()) for login in smtp.box.logins)
        for raw in smtp.box.raw:
            assert_no_secret(raw, "an e-mail")
        for message in smtp.box.messages:  # and each part decoded (quoted-printable, base64 bodies)
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    assert_no_secret(payload, "an e-mail's decoded part")
