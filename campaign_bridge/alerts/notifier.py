"""``Notifier``: one client file's alerts, judged after each run, recorded, and delivered once per change.

After a run: judge the conditions the run says something about (``conditions.py``) → record each in the
state store (``alert_state``: firing with a fingerprint, or resolved) → deliver to each target what it
has not been told yet: a firing alert whose fingerprint it has not seen, or the resolution of one it
was told of. A target that could not be reached keeps what it was not told, and is sent it again after
the client's next run (of any rule); the failure is logged and kept, redacted, in ``last_error``.

``AlertDispatcher`` runs notifiers on a thread of its own, so that no run waits for a webhook or a mail
server: the job runner hands it an ``Observation`` and goes on. Nothing here raises into its caller.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from campaign_bridge.alerts.conditions import AlertKind, Condition, Observation, judge
from campaign_bridge.alerts.delivery import Notice, Target
from campaign_bridge.alerts.redact import Redactor, config_secrets, install_log_filter
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.sync.store.alerts import AlertState
from campaign_bridge.sync.store.store import Store

log = logging.getLogger("campaign_bridge.alerts")

Clock = Callable[[], datetime]

#: How each alert is headed.
TITLES = {
    AlertKind.FAILED_RUNS: "rule failing",
    AlertKind.HELD_PLAN: "plan held by its safety limit",
    AlertKind.DEAD_LETTERS: "dead letters grew",
    AlertKind.API_ALLOWANCE: "API allowance running out",
    AlertKind.DRIFT: "drift found",
    AlertKind.TAKEOVER: "worker died; its lease was taken over",
}

#: Alerts sent as failures (the others as warnings): nothing is synced, or a worker died.
FAILURES = frozenset({AlertKind.FAILED_RUNS, AlertKind.TAKEOVER})


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notice to one target: what was sent, and why it did not arrive (None: it did)."""

    kind: str
    rule: str
    subject: str
    target: str  # the target's label, e.g. "target 1 (JSON)"
    resolved: bool
    title: str
    error: str | None


class Notifier:
    """The alerts of one client file, kept in its state store."""

    def __init__(self, config: ClientConfig, store: Store, *, clock: Clock = utcnow) -> None:
        self.config, self.store, self.clock = config, store, clock
        self._targets: list[Target] | None = None
        self.redact = Redactor()

    @property
    def targets(self) -> list[Target]:
        """The targets, made on first use: on the alerts' thread, not the job runner's."""
        if self._targets is None:
            settings = self.config.alerts
            secrets = config_secrets(self.config)
            self.redact.add(secrets)
            install_log_filter(secrets)
            self._targets = (
                [Target(i, t.get_secret_value()) for i, t in enumerate(settings.targets)] if settings else []
            )
        return self._targets

    def observe(self, seen: Observation) -> list[Delivery]:
        """Judge ``seen``, record what it says, and deliver what is outstanding; what was delivered (or
        tried). Never raises: a failure of the alerts themselves is logged, and the run is untouched."""
        if self.config.alerts is None:
            return []
        try:
            targets = self.targets  # the redactor knows every secret from here on
            states = self.store.alert_states(self.config.client)
            for condition in judge(self.config, self.store, seen):
                self._record(condition, states.get((condition.rule, condition.kind, condition.subject)))
            return self.flush() if targets else []
        except Exception as exc:
            log.error("alerts after the %s of %s failed: %s", seen.kind, seen.rule, self.redact(_describe(exc)))
            return []

    def _record(self, condition: Condition, state: AlertState | None) -> None:
        client, now = self.config.client, self.clock()
        state = state or AlertState(client, condition.rule, condition.kind.value, condition.subject)
        if condition.firing:
            if state.fingerprint == condition.fingerprint:
                return  # the same alert: told already (or still to be told), not again
            delivered = dict(state.delivered)
            if condition.kind is AlertKind.DEAD_LETTERS and condition.fingerprint is not None:
                # fewer than a target was told of: nothing to say now, but growth from here is news
                fewer = int(condition.fingerprint)
                for key, told in delivered.items():
                    if told.isdigit() and int(told) > fewer:
                        delivered[key] = condition.fingerprint
            title, body = self._compose(condition)
            summary = f"{title}\n{body}"
            state = replace(state, fingerprint=condition.fingerprint, summary=summary, delivered=delivered)
        else:
            if state.fingerprint is None:
                return  # was not firing
            title, _, body = (state.summary or "").partition("\n")
            summary = f"resolved: {title}\nresolved: {self.redact(condition.what)}\n{body}"
            state = replace(state, fingerprint=None, summary=summary)
        self.store.save_alert_state(state, now)

    def _compose(self, condition: Condition) -> tuple[str, str]:
        client = self.config.client
        about = f"rule: {condition.rule}" if condition.rule else f"connection: {condition.subject}"
        title = f"campaign-bridge: {TITLES[condition.kind]} ({client} / {condition.rule or condition.subject})"
        body = "\n".join(
            [
                f"client: {client}",
                about,
                f"what happened: {condition.what}",
                f"see: {condition.see}",
            ]
        )
        return self.redact(title), self.redact(body)

    def flush(self) -> list[Delivery]:
        """Deliver every notice a target of this client has not been told yet: firing alerts it has not
        seen, resolutions of alerts it was told of."""
        out: list[Delivery] = []
        current = {t.key for t in self.targets}
        renewed = False
        for state in self.store.alert_states(self.config.client).values():
            firing = state.fingerprint is not None
            wanted = state.fingerprint or ""
            pending = [
                t
                for t in self.targets
                if (state.delivered.get(t.key) != wanted if firing else bool(state.delivered.get(t.key)))
            ]
            stale = set(state.delivered) - current
            if not pending and not stale:
                continue
            notice = _notice(state)
            if pending and not renewed:
                for target in self.targets:
                    target.renew()
                renewed = True
            delivered = {k: v for k, v in state.delivered.items() if k in current}
            errors: list[str] = []
            for target in pending:
                error = target.send(notice, self.redact)
                out.append(
                    Delivery(state.kind, state.rule, state.subject, target.label, not firing, notice.title, error)
                )
                if error is None:
                    delivered[target.key] = wanted
                    log.info("alert sent to %s: %s", target.label, notice.title)
                else:
                    errors.append(f"{target.label}: {error}")
                    log.warning(
                        "alert not delivered to %s: %s; sent again after the client's next run (%s)",
                        target.label,
                        error,
                        notice.title,
                    )
            attempts = state.attempts + 1 if errors else 0
            last_error = "; ".join(errors) if errors else None
            self.store.save_alert_state(
                replace(state, delivered=delivered, attempts=attempts, last_error=last_error), self.clock()
            )
        return out


def send_test(config: ClientConfig) -> list[Delivery]:
    """Send a test notice to every target of ``config`` (``campaign-bridge alerts test``); records nothing."""
    if config.alerts is None:
        return []
    secrets = config_secrets(config)
    redact = Redactor(secrets)
    install_log_filter(secrets)
    client = config.client
    notice = Notice(
        f"campaign-bridge: test alert ({client})",
        "\n".join(
            [
                f"client: {client}",
                "what happened: nothing; this is a test alert sent by `campaign-bridge alerts test`",
                f"see: campaign-bridge runs -c {config.path}",
            ]
        ),
        "warning",
    )
    out = []
    for i, url in enumerate(config.alerts.targets):
        target = Target(i, url.get_secret_value())
        out.append(Delivery("test", "", "", target.label, False, notice.title, target.send(notice, redact)))
    return out


def _notice(state: AlertState) -> Notice:
    title, _, body = (state.summary or "").partition("\n")
    if state.fingerprint is None:
        return Notice(title, body, "resolved")
    return Notice(title, body, "failure" if state.kind in FAILURES else "warning")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class AlertDispatcher:
    """Runs ``Notifier.observe`` on one thread of its own, in the order runs finished."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Notifier, Observation] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, notifier: Notifier, seen: Observation) -> None:
        """Queue ``seen`` for ``notifier``; returns at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="campaign-bridge-alerts", daemon=True)
                self._thread.start()
        self._queue.put((notifier, seen))

    def drain(self) -> None:
        """Wait until every queued observation has been handled."""
        self._queue.join()

    def stop(self, timeout: float | None = None) -> None:
        """Handle what is queued, then end the thread (waiting at most ``timeout`` seconds)."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                notifier, seen = item
                notifier.observe(seen)
            except Exception as exc:  # observe does not raise; this is the last guard of the thread
                log.error("alerts: %s", type(exc).__name__)
            finally:
                self._queue.task_done()
