"""Send one notice to one target, through Apprise, and say whether it arrived (and if not, why).

Apprise (https://github.com/caronc/apprise) speaks Slack, Teams, e-mail, webhooks and a hundred more, with
their retries, timeouts and formats; we hand it a title and a body. A target is known to everything past
this module by ``Target.key`` (a digest of its URL: the state store keeps what each target was told) and
``Target.label`` (its place in the file and its service): the URL itself never leaves this object.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import apprise

from campaign_bridge.alerts.redact import APPRISE_MASK, MASK, Redactor
from campaign_bridge.config.alerts import instantiate, service_name

#: Apprise's notify types, by what a notice says.
LEVELS = {"warning": apprise.NotifyType.WARNING, "failure": apprise.NotifyType.FAILURE, "resolved": "success"}
#: The most of Apprise's own words about a failed delivery kept in a log line and the state store.
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Notice:
    """What a person reads: a title, a body (client, rule, what happened, where to see more), a level."""

    title: str
    body: str
    level: str = "warning"  # warning | failure | resolved


class Target:
    """One configured Apprise URL, ready to send."""

    def __init__(self, index: int, url: str) -> None:
        self.index = index
        self.key = hashlib.sha256(url.encode()).hexdigest()[:16]
        self._url = url
        self._plugin: Any = None
        self._apprise = apprise.Apprise()
        self.renew()
        self.label = f"target {index + 1} ({service_name(self._plugin) if self._plugin else 'unusable URL'})"

    def renew(self) -> None:
        """A fresh Apprise plugin. Apprise spaces the sends of one plugin by its service's rate (5.5 s
        for most): right within one batch of alerts, needless between runs minutes apart, so the notifier
        renews its targets once per batch."""
        self._plugin = instantiate(self._url)
        self._apprise = apprise.Apprise()
        if self._plugin is not None:
            self._apprise.add(self._plugin)

    def send(self, notice: Notice, redact: Redactor) -> str | None:
        """Deliver ``notice``; None when it arrived, else why not (redacted, short). Never raises."""
        if self._plugin is None:
            return "Apprise cannot use this URL (campaign-bridge validate FILE says why)"
        level = LEVELS.get(notice.level, apprise.NotifyType.INFO)
        try:
            with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
                ok = self._apprise.notify(
                    body=redact(notice.body), title=redact(notice.title), notify_type=level, body_format="text"
                )
                said = captured.getvalue()
        except Exception as exc:  # a plugin's bug must not reach the run or the service
            return f"Apprise raised {type(exc).__name__}"
        if ok:
            return None
        reason = " ".join(APPRISE_MASK.sub(MASK, redact(str(said))).split()) or "Apprise reported the delivery failed"
        return reason[:MAX_REASON]
