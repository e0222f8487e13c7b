"""Keep secrets out of alerts and log lines: every secret of a client file, replaced before it is shown.

The secrets are what the client file holds that must never be shown: the values Apprise marks private in
each alert target (passwords, tokens, keys, webhook ids) and its webhook headers, and every ``SecretStr`` of
its connections (a run's message quoting one by accident must not carry it into an alert). Each is replaced
as written, URL-encoded and base64-encoded (an HTTP Basic header).

Apprise already masks the secrets it knows in its own log lines; ``install_log_filter`` makes sure, by
passing every line of the ``apprise`` logger (and of urllib3's, which logs a webhook's path and query at
DEBUG) through ``redact`` with every secret registered in this process.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr

from campaign_bridge.config.alerts import instantiate, private_values
from campaign_bridge.config.models import ClientConfig

MASK = "****"
#: Shorter values are not replaced: a two-letter "secret" would mask ordinary words in every message (and
#: is no secret worth the name); the check on the file still refuses it written literally.
MIN_SECRET = 3
#: The loggers of the libraries that deliver alerts.
LIBRARY_LOGGERS = ("apprise", "urllib3.connectionpool")
#: How Apprise masks a secret in its own lines: its first and last characters (``h...Z``) or its last four
#: (``...WXYZ``). Part of a secret is still too much: the library's lines lose those too.
APPRISE_MASK = re.compile(r"[^\s/:@?&=#]?\.\.\.[^\s/:@?&=#.]{1,4}")


def library_line(text: str) -> str:
    """A line of Apprise's (or urllib3's) with every registered secret masked, and Apprise's partial masks."""
    return APPRISE_MASK.sub(MASK, REGISTERED(text))


def forms(secret: str) -> Iterator[str]:
    """``secret`` as it may appear in text: as is, URL-encoded, and base64 (alone, and after a user name
    in a Basic header, where it starts at a byte boundary only sometimes, so only the whole is matched)."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    b64 = base64.b64encode(secret.encode()).decode()
    yield b64
    yield b64.rstrip("=")


class Redactor:
    """Replaces every known secret, in every form, by ``MASK``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = set(self._forms)
            for s in secrets:
                if len(s) >= MIN_SECRET:
                    known.update(f for f in forms(s) if len(f) >= MIN_SECRET)
            self._forms = sorted(known, key=len, reverse=True)  # a longer form before one inside it

    def __call__(self, text: str) -> str:
        for f in self._forms:
            if f in text:
                text = text.replace(f, MASK)
        return text


def config_secrets(config: ClientConfig) -> list[str]:
    """Every secret of a client file: its alert targets' and its connections'."""
    out: list[str] = []
    if config.alerts is not None:
        for target in config.alerts.targets:
            plugin = instantiate(target.get_secret_value())
            if plugin is not None:
                out.extend(private_values(plugin))
                user, password = getattr(plugin, "user", None), getattr(plugin, "password", None)
                if isinstance(user, str) and isinstance(password, str) and password:
                    out.append(f"{user}:{password}")  # an HTTP Basic header's whole credential
    for settings in config.connections.values():
        out.extend(_secret_strs(settings))
    return out


def _secret_strs(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_strs(getattr(value, name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _secret_strs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _secret_strs(v)


#: The secrets of every client file this process sends alerts for (the log filter's).
REGISTERED = Redactor()
_installed = threading.Lock()
_filter: _RedactingFilter | None = None


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: drop its arguments rather than risk them
            message = str(record.msg)
        record.msg, record.args = library_line(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.msg += f" ({type(record.exc_info[1]).__name__})"
            record.exc_info, record.exc_text = None, None
        return True


def install_log_filter(secrets: Iterable[str]) -> None:
    """Register ``secrets`` and make sure the delivering libraries' log lines pass through ``REGISTERED``."""
    global _filter
    REGISTERED.add(secrets)
    with _installed:
        if _filter is None:
            _filter = _RedactingFilter()
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).addFilter(_filter)
