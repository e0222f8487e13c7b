"""The one place every Marketo request goes through, on the connector kit and ``requests``.

Why not marketorestpython here (the tests drive the sandbox with it): it sends through module-level
``requests.get/post``, so the kit's metered session cannot count its calls or apply the connection's CA
bundle; it sleeps to pace itself at 5 calls per second and retries with its own backoff, so pacing and
retrying would happen in two places. This client is a thin ``requests`` session instead:

``call``  → the kit's ``CallLoop`` (the connection's ``CallPolicy`` retries; ``MarketoLogin`` renews the
token once on 601/602 or shortly before it expires) → a slot of the ``SlidingWindowPacer`` (100 calls per
20 s, 10 in flight) → the metered session (the run's ``ApiBudget``, every attempt counted) → the envelope
read: ``success: false`` becomes the error tree through ``errors.TABLE``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from campaign_bridge.connectors.kit import (
    ApiBudget,
    CallLoop,
    CallPolicy,
    Login,
    Meter,
    SlidingWindowPacer,
    metered_session,
    requests_failure,
    tls_verify,
    warn_if_unverified,
)
from campaign_bridge.connectors.kit.errors import SNIPPET_CHARS
from campaign_bridge.connectors.marketo.errors import ENVELOPE, TABLE, WINDOW_SECONDS, TokenExpiredError, failure
from campaign_bridge.connectors.marketo.settings import MarketoSettings
from campaign_bridge.errors import AuthError, TransientError

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
Sleep = Callable[[float], None]

#: Renew the access token this long before Marketo says it expires.
TOKEN_MARGIN = 60.0
_IDS = re.compile(r"/(\d+|[0-9a-f]{16,})(?=/|\.json|$)")


def endpoint_of(path: str) -> str:
    """``/rest/v1/lists/1001/leads.json`` → ``rest/v1/lists/{id}/leads``: the budget's ``by_endpoint`` key."""
    return _IDS.sub("/{id}", path).removesuffix(".json").lstrip("/")


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float


class MarketoLogin(Login[Token]):
    """The identity endpoint's client-credentials token; renewed when Marketo says 601/602, or before its
    announced lifetime runs out."""

    def __init__(self, client: MarketoClient) -> None:
        super().__init__()
        self.client = client

    def stale(self) -> bool:
        handle = self._handle
        return handle is not None and self.client.clock() >= handle.expires_at

    def login(self) -> Token:
        settings, client = self.client.settings, self.client
        auth = settings.auth
        where = f"{client.connection}: identity"
        try:
            response = client.session.get(
                f"{settings.identity}/oauth/token",
                params={
                    "grant_type": "client_credentials",
                    "client_id": auth.client_id,
                    "client_secret": auth.client_secret.get_secret_value(),
                },
            )
            body = response.json() if response.content else {}
        except (requests.RequestException, ValueError) as exc:
            translated = requests_failure(exc, connection=client.connection, vendor="Marketo", endpoint="identity")
            raise (translated or TransientError(f"{where}: {type(exc).__name__}")) from exc
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            said = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
            message = str(said or response.text[:SNIPPET_CHARS] or "(no body)")
            raise TABLE.translate(failure(where, response.status_code, None, message))
        lifetime = float(body.get("expires_in") or 0)
        return Token(str(body["access_token"]), client.clock() + max(0.0, lifetime - TOKEN_MARGIN))


class MarketoClient:
    """Paced, budgeted, retried access to one instance; safe to share between threads (the pacer, budget and
    login take their own locks, and a ``requests.Session`` is used for independent requests only)."""

    def __init__(
        self, connection: str, settings: MarketoSettings, *, policy: CallPolicy, clock: Monotonic, sleep: Sleep
    ) -> None:
        self.connection, self.settings, self.clock, self.sleep = connection, settings, clock, sleep
        self.budget = ApiBudget(settings.api_budget, connection)
        self.pacer = SlidingWindowPacer(
            settings.calls_per_20s, WINDOW_SECONDS, clock=clock, sleep=sleep, max_in_flight=settings.concurrent_calls
        )
        self.meter = Meter(self.budget)
        verify = tls_verify(settings.ca_bundle, settings.verify_tls)
        warn_if_unverified(log, connection, verify, carrying="the client secret and tokens")
        self.session = metered_session(self.meter, endpoint_of=endpoint_of, timeout=settings.timeout, verify=verify)
        self.loop = CallLoop(
            MarketoLogin(self),
            policy,
            expired=TokenExpiredError,
            refused_fresh=lambda e: f"{connection}: Marketo refused a freshly issued access token ({e})",
        )
        self._lock = threading.Lock()
        #: Refusals met, by Marketo code (606, 615…).
        self.refusals: dict[str, int] = {}

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        first: bool = False,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One API call; the successful envelope (``success: true``). Raises the error tree.

        ``first``: the run waits for this call (a write), so it takes the pacer's next free slot before
        calls made ahead of need. ``idempotent=False``: one attempt only (a create)."""
        return self.loop.call(
            lambda token: self._envelope(
                self.send(token, method, path, params, json, data, files=files, first=first), path
            ),
            idempotent=idempotent,
        )

    def text(self, path: str) -> str:
        """A call whose answer is a file (a bulk export's CSV) rather than an envelope."""

        def once(token: Token) -> str:
            response = self.send(token, "GET", path, None, None, None)
            if "json" in response.headers.get("Content-Type", ""):
                self._envelope(response, path)  # a failure comes as an envelope
            return response.text

        return self.loop.call(once)

    def send(
        self,
        token: Token,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        *,
        files: Mapping[str, Any] | None = None,
        first: bool = False,
    ) -> requests.Response:
        """One request in a slot of the pacer, no retry, no renewal; transport failures translated."""
        self.pacer.acquire(first=first)
        try:
            return self.session.request(
                method,
                f"{self.settings.base_url}{path}",
                params=params,
                json=json,
                data=data,
                files=files,
                headers={"Authorization": f"Bearer {token.value}"},
            )
        except requests.RequestException as exc:
            translated = requests_failure(exc, connection=self.connection, vendor="Marketo", endpoint=endpoint_of(path))
            raise (translated or TransientError(f"{self.connection}: {endpoint_of(path)}: {exc}")) from exc
        finally:
            self.pacer.release()

    def _envelope(self, response: requests.Response, path: str) -> dict[str, Any]:
        where = f"{self.connection}: {endpoint_of(path)}"
        if response.status_code != 200:
            raise TABLE.translate(
                failure(where, response.status_code, None, response.text[:SNIPPET_CHARS] or "(no body)")
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(f"{where}: Marketo answered a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise TransientError(f"{where}: Marketo answered {type(body).__name__}, not an object")
        if body.get("success") is True:
            return body
        errors = body.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("code")) if first.get("code") is not None else None
        message = str(first.get("message") or "(no message)")
        if code is not None:
            with self._lock:
                self.refusals[code] = self.refusals.get(code, 0) + 1
        if code == "606":  # the window is spent on Marketo's side: no call of ours goes until it rolls
            self.pacer.hold(min(WINDOW_SECONDS, max(1.0, self.pacer.until_window_rolls())))
        error = TABLE.translate(failure(where, ENVELOPE, code, message))
        if isinstance(error, AuthError) and not isinstance(error, TokenExpiredError):
            log.debug("%s refused: %s", where, code)
        raise error

    def close(self) -> None:
        self.session.close()
