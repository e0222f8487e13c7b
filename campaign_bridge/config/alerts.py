"""The ``alerts:`` section of a client file: where alerts go, and when a person is told.

```yaml
alerts:
  targets:                      # Apprise URLs; every secret in them a ${ENV} reference
    - "mailto://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com?to=ops@example.com"
    - "json://hooks.example.com/campaign-bridge?+Authorization=${HOOK_AUTH}"
  failed_runs: 3                # a rule failed this many sync runs in a row (null: never)
  api_allowance: 80%            # a connection used this share of its daily API allowance (null: never)
  held_plans: true              # a sync's removals were held by the safety limits
  dead_letters: true            # a rule's dead letters grew
  drift: true                   # the nightly reconcile found drift
  takeovers: true               # a run's worker died and the next run took over its lease
```

A target is sent through Apprise (https://github.com/caronc/apprise/wiki), which speaks Slack, Teams,
e-mail, webhooks and a hundred more. What Apprise knows to be a secret of a URL (a password, a token, a
key, a webhook id) and the headers of a webhook (``+Name=value``) must come from the environment: the
check below refuses a target whose secret is written in the file (``alert_problems``, run by ``validate``
and on every load). The URLs are ``SecretStr``: they are never printed; a target is named by its place in
the list and its service (``target 2 (E-Mail)``).
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

if TYPE_CHECKING:
    from campaign_bridge.config.document import Located
    from campaign_bridge.errors import Problem

#: A rule that failed this many sync runs in a row is worth a person's look (one failure is often a
#: vendor's bad minute, retried by the next run; three in a row at the usual 15-minute period is 45 minutes
#: of nothing synced).
DEFAULT_FAILED_RUNS = 3
#: A connection that spent this share of its daily API allowance leaves the client's other integrations
#: (and the rest of the day's runs) little room: a person should know before it is spent.
DEFAULT_API_ALLOWANCE = "80%"

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


class AlertSettings(BaseModel):
    """Where alerts go and which ones are sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: tuple[SecretStr, ...] = Field(
        min_length=1, description="Apprise URLs (mailto://, json://, slack://, workflows://…); secrets as ${ENV}."
    )
    failed_runs: int | None = Field(
        default=DEFAULT_FAILED_RUNS, ge=1, le=1000, description="Alert when a rule fails this many runs in a row."
    )
    api_allowance: str | None = Field(
        default=DEFAULT_API_ALLOWANCE, description="Alert when a connection used this share of its daily allowance."
    )
    held_plans: bool = Field(default=True, description="Alert when a plan's removals are held by its safety limit.")
    dead_letters: bool = Field(default=True, description="Alert when a rule's dead letters grow.")
    drift: bool = Field(default=True, description="Alert when a reconcile finds drift.")
    takeovers: bool = Field(default=True, description="Alert when a dead worker's lease is taken over.")

    @field_validator("api_allowance", mode="before")
    @classmethod
    def _allowance(cls, v: Any) -> Any:
        if v is None:
            return None
        m = _PERCENT.fullmatch(str(v).strip())
        if m is None or not 0 < float(m.group(1)) <= 100:
            raise ValueError("write a share of the daily allowance from 1% to 100%, e.g. 80%")
        return f"{m.group(1)}%"

    @property
    def allowance_share(self) -> float | None:
        """``api_allowance`` as a fraction (``0.8``), or None."""
        return None if self.api_allowance is None else float(self.api_allowance.rstrip("%")) / 100


class _QuietWhileParsing(logging.Filter):
    """Drops the ``apprise`` logger's lines of a thread while it parses a target URL: Apprise says why a URL
    will not do by quoting parts of it (masked only to their first and last characters), and
    ``alert_problems`` says it without them."""

    parsing = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.parsing, "on", False)


_QUIET = _QuietWhileParsing()
logging.getLogger("apprise").addFilter(_QUIET)


def instantiate(url: str) -> Any:
    """The Apprise plugin of ``url``, or None when Apprise cannot make one of it (``alert_problems`` says
    why). Apprise's log lines of the parse are dropped (see ``_QuietWhileParsing``)."""
    import apprise

    _QUIET.parsing.on = True
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        _QUIET.parsing.on = False


def service_name(plugin: Any) -> str:
    return str(getattr(plugin, "service_name", None) or type(plugin).__name__)


def private_values(plugin: Any) -> Iterator[str]:
    """Every value of ``plugin`` that Apprise marks private (passwords, tokens, keys, webhook ids), the user
    name beside a password, and a webhook's header values."""
    tokens = {**getattr(plugin, "template_tokens", {}), **getattr(plugin, "template_args", {})}
    for name, spec in tokens.items():
        if not (isinstance(spec, dict) and spec.get("private")):
            continue
        value = getattr(plugin, name, None)
        for v in value if isinstance(value, list | tuple | set) else [value]:
            if isinstance(v, str) and v:
                yield v
    headers = getattr(plugin, "headers", None)
    if isinstance(headers, dict):
        yield from (v for v in headers.values() if isinstance(v, str) and v)


def alert_problems(alerts: AlertSettings | None, doc: Located) -> list[Problem]:
    """Each target Apprise cannot use, and each secret of a target written in the file rather than taken
    from the environment. Never quotes a URL: its place in the file and its service say which it is."""
    if alerts is None:
        return []
    problems: list[Problem] = []
    for i, secret in enumerate(alerts.targets):
        path = ("alerts", "targets", i)
        url = secret.get_secret_value()
        plugin = instantiate(url)
        if plugin is None:
            problems.append(doc.problem(path, f"alerts.targets[{i}]: {_unusable(url)}"))
            continue
        from_env = _env_values(doc, path, url)
        written = [v for v in private_values(plugin) if not any(v in e for e in from_env)]
        if written:
            problems.append(
                doc.problem(
                    path,
                    f"alerts.targets[{i}] ({service_name(plugin)}): a secret of this URL (its password, token, "
                    "key or header) is written in the file; write ${SOME_NAME} there and set SOME_NAME in the "
                    "environment",
                )
            )
    return problems


def _unusable(url: str) -> str:
    """Why Apprise made nothing of ``url``, naming only its scheme."""
    from apprise.manager_plugins import NotificationManager

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    known = sorted(NotificationManager().schemas())  # type: ignore[no-untyped-call]
    if not scheme:
        return "not a notification URL (write e.g. mailto://…, json://…, slack://…)"
    if scheme not in known:
        close = difflib.get_close_matches(scheme, known, n=1)
        hint = f"; did you mean '{close[0]}://'?" if close else ""
        return f"Apprise knows no '{scheme}://' service{hint}"
    return f"Apprise cannot use this {scheme}:// URL (a part is missing or malformed; see its wiki page)"


def _env_values(doc: Located, path: tuple[str | int, ...], url: str) -> list[str]:
    """What the environment put into the target at ``path`` (each in the form the URL holds it and
    URL-decoded): nothing when the file wrote the URL without a ``${NAME}``."""
    if path not in doc.env_refs:
        return []
    raw = next((k for k, v in doc.env_values.items() if v == url and "${" in k), None)
    if raw is None:
        return []
    out: list[str] = []
    for m in _ENV_REF.finditer(raw):
        value = doc.env_values.get(m.group(0))
        if value:
            out.extend((value, unquote(value)))
    return out
