"""hubspot-api-client wiring: the one place every HubSpot request goes through.

``HubSpotClient.call`` wraps one request of the generated client in, from the outside in: the
connection's ``CallPolicy`` (retries), OAuth token renewal, client-side pacing, the API budget (every
attempt counted), and the translation of HubSpot's answers into our error tree (``errors.TABLE``).

Requests are made with ``_preload_content=False`` and the JSON parsed here: the generated models drop
keys they do not know (HubSpot's ``recordsIdsAdded`` typo is documented both ways) and turn an HTML
error page into an empty model, where a plain parse reports it as the transient failure it is.
urllib3's own retries are switched off so that retrying happens in one place.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import hubspot
import hubspot.crm.contacts.exceptions as contacts_exceptions
import hubspot.crm.lists.exceptions as lists_exceptions
import hubspot.oauth.exceptions as oauth_exceptions
import urllib3

from campaign_bridge.connectors.hubspot.errors import ExpiredTokenError, parse_failure, translate
from campaign_bridge.connectors.hubspot.pacing import (
    Monotonic,
    Sleep,
    SlidingWindowPacer,
    observe_rate_headers,
)
from campaign_bridge.connectors.hubspot.settings import (
    SEARCH_REQUESTS_PER_SECOND,
    HubSpotSettings,
    OAuthAuth,
    PrivateAppAuth,
)
from campaign_bridge.connectors.policy import ApiBudget, CallPolicy
from campaign_bridge.errors import AuthError, FatalError, TransientError

log = logging.getLogger(__name__)

#: The generated packages each define their own ApiException; these are the ones we call.
API_EXCEPTIONS: tuple[type[Exception], ...] = (
    contacts_exceptions.ApiException,
    lists_exceptions.ApiException,
    oauth_exceptions.ApiException,
)
#: Renew an OAuth access token this long before HubSpot says it expires.
TOKEN_EXPIRY_MARGIN = 60.0

#: One call of the generated client, given the per-request options; returns the raw urllib3 response.
Request = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """One successful answer: status, parsed JSON (``None`` when empty) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]

    def obj(self) -> dict[str, Any]:
        """The body as a JSON object; raises ``TransientError`` when it is something else."""
        if not isinstance(self.body, dict):
            raise TransientError(f"HubSpot answered {self.status} with {type(self.body).__name__}, not an object")
        return self.body


class HubSpotClient:
    """Paced, budgeted, retried access to one portal. Safe to call from two threads at once (a run looks
    people up in one while it writes in another): the pacer, the budget, the counters, the token and the
    API objects are shared under locks, and urllib3's pools are thread-safe."""

    def __init__(
        self,
        connection: str,
        settings: HubSpotSettings,
        *,
        policy: CallPolicy,
        clock: Monotonic,
        sleep: Sleep,
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.policy = policy
        self.budget = ApiBudget(settings.api_budget, connection)
        self.pacer = SlidingWindowPacer(settings.rate_limit, 10.0, clock=clock, sleep=sleep)
        self.search_pacer = SlidingWindowPacer(SEARCH_REQUESTS_PER_SECOND, 1.0, clock=clock, sleep=sleep)
        self._clock = clock
        self._oauth = settings.auth if isinstance(settings.auth, OAuthAuth) else None
        self._refresh_token = self._oauth.refresh_token.get_secret_value() if self._oauth else None
        self._token_expires_at = float("-inf")
        token = settings.auth.token.get_secret_value() if isinstance(settings.auth, PrivateAppAuth) else None
        if not settings.verify_tls:
            log.warning(
                "%s: TLS certificate verification is OFF (verify_tls: false): anyone on the network path can "
                "read and change this connection's traffic, tokens included",
                connection,
            )
        # urllib3 must not retry on its own: CallPolicy retries, and counts each attempt.
        no_retry = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        self._hubspot = hubspot.Client.create(
            access_token=token, host=settings.base_url, verify_ssl=settings.verify_tls, retry=no_retry
        )
        self._opts: dict[str, Any] = {"_preload_content": False, "_request_timeout": settings.timeout}
        #: Daily counters HubSpot reports (private apps only), and how many 429s we met.
        self.daily_limit: int | None = None
        self.daily_used: int | None = None
        self.rate_limited = 0
        self._lock = threading.Lock()  # API objects and counters
        self._token_lock = threading.RLock()  # one renewal at a time
        self._apis: dict[str, Any] = {}

    # -- the generated APIs, built once (each access of ``client.crm…`` builds a new pool) ----------
    @property
    def contacts_batch(self) -> Any:
        return self._api("contacts_batch", lambda: self._hubspot.crm.contacts.batch_api)

    @property
    def contacts_search(self) -> Any:
        return self._api("contacts_search", lambda: self._hubspot.crm.contacts.search_api)

    @property
    def lists(self) -> Any:
        return self._api("lists", lambda: self._hubspot.crm.lists.lists_api)

    @property
    def memberships(self) -> Any:
        return self._api("memberships", lambda: self._hubspot.crm.lists.memberships_api)

    @property
    def _tokens(self) -> Any:
        return self._api("tokens", lambda: self._hubspot.oauth.tokens_api)

    def _api(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            api = self._apis.get(name)
            if api is None:
                api = self._apis[name] = build()
            return api

    # -- calls ---------------------------------------------------------------------------------------
    def call(self, endpoint: str, request: Request, *, search: bool = False, first: bool = False) -> Reply:
        """Make one request under the connection's policy; raises the error tree.

        ``endpoint`` names the call in the budget's ``by_endpoint`` and in messages. ``first``: the run
        waits for this call (a write), so it takes the next free slot of the pacer before calls made ahead
        of need (lookups, reads). A 401
        ``EXPIRED_AUTHENTICATION`` renews an OAuth token once and repeats the request.
        """

        def attempt() -> Reply:
            self._ensure_token()
            try:
                return self._once(endpoint, request, search=search, first=first)
            except ExpiredTokenError:
                if self._oauth is None:
                    raise
                self._renew_token()
                try:
                    return self._once(endpoint, request, search=search, first=first)
                except ExpiredTokenError as exc:
                    raise AuthError(f"{self.connection}: HubSpot refused a freshly renewed OAuth token") from exc

        return self.policy.call(attempt)

    def _once(self, endpoint: str, request: Request, *, search: bool = False, first: bool = False) -> Reply:
        pacers = [self.search_pacer, self.pacer] if search else [self.pacer]
        taken: list[SlidingWindowPacer] = []
        try:
            for pacer in pacers:
                pacer.acquire(first=first)
                taken.append(pacer)
            return self._send(endpoint, request)
        finally:
            for pacer in taken:
                pacer.release()  # the answer is in (or the request failed): HubSpot has counted it by now

    def _send(self, endpoint: str, request: Request) -> Reply:
        self.budget.spend(endpoint)
        where = f"{self.connection}: {endpoint}"
        try:
            response = request(self._opts)
        except API_EXCEPTIONS as exc:
            status = int(getattr(exc, "status", 0) or 0)
            headers: Mapping[str, str] = getattr(exc, "headers", None) or {}
            observe_rate_headers(self.pacer, headers)
            if status == 0:  # the generated client's wrapping of TLS and request-building failures
                raise TransientError(f"{where}: could not talk to HubSpot ({getattr(exc, 'reason', '')})") from exc
            if status == 429:
                with self._lock:
                    self.rate_limited += 1
            failure = parse_failure(where, status, getattr(exc, "body", None), headers)
            log.debug("%s -> %s %s", where, status, failure.code)
            raise translate(failure) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"{where}: connection to HubSpot failed ({type(exc).__name__})") from exc
        try:
            raw: bytes = response.data
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"{where}: the answer was cut off ({type(exc).__name__})") from exc
        finally:
            response.release_conn()
        headers = response.headers
        observe_rate_headers(self.pacer, headers)
        self._note_daily(headers)
        log.debug("%s -> %s", where, response.status)
        return Reply(int(response.status), _parse_json(where, raw, headers), headers)

    def _note_daily(self, headers: Mapping[str, str]) -> None:
        limit, remaining = headers.get("X-HubSpot-RateLimit-Daily"), headers.get("X-HubSpot-RateLimit-Daily-Remaining")
        if limit and remaining and limit.isdigit() and remaining.isdigit():
            self.daily_limit, self.daily_used = int(limit), int(limit) - int(remaining)

    # -- OAuth ---------------------------------------------------------------------------------------
    def _ensure_token(self) -> None:
        if self._oauth is None or self._clock() < self._token_expires_at:
            return
        with self._token_lock:
            if self._clock() >= self._token_expires_at:  # another thread may have renewed it meanwhile
                self._renew_token()

    def _renew_token(self) -> None:
        """Mint an access token from the refresh token and give it to every API object (one thread at a
        time: a refresh token is not spent twice at once)."""
        with self._token_lock:
            assert self._oauth is not None
            oauth = self._oauth
            refresh_token = self._refresh_token
            try:
                reply = self._once(
                    "oauth.token",
                    lambda o: self._tokens.create(
                        grant_type="refresh_token",
                        client_id=oauth.client_id,
                        client_secret=oauth.client_secret.get_secret_value(),
                        refresh_token=refresh_token,
                        **o,
                    ),
                )
            except FatalError as exc:
                raise AuthError(f"{self.connection}: could not renew the OAuth access token: {exc}") from exc
            body = reply.obj()
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise TransientError(f"{self.connection}: HubSpot's token answer carried no access_token")
            self._refresh_token = str(body.get("refresh_token") or refresh_token)
            expires_in = body.get("expires_in")
            lifetime = float(expires_in) if isinstance(expires_in, int | float) else 1800.0
            self._token_expires_at = self._clock() + max(0.0, lifetime - TOKEN_EXPIRY_MARGIN)
            self._hubspot.access_token = token  # for API objects built later
            with self._lock:
                apis = list(self._apis.values())
            for api in apis:
                api.api_client.configuration.access_token = token

    def close(self) -> None:
        with self._lock:
            apis = list(self._apis.values())
        for api in apis:
            api.api_client.rest_client.pool_manager.clear()


def _parse_json(where: str, raw: bytes, headers: Mapping[str, str]) -> Any:
    if not raw:
        return None
    if "json" not in (headers.get("Content-Type") or "").lower():
        raise TransientError(f"{where}: HubSpot answered with {headers.get('Content-Type') or 'no content type'}")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise TransientError(f"{where}: HubSpot's answer is not valid JSON") from exc
