"""hubspot-api-client wiring: the one place every HubSpot request goes through.

``HubSpotClient.call`` wraps one request of the generated client in, from the outside in, the parts of the
connector kit: its ``CallLoop`` (the connection's ``CallPolicy`` retries; ``HubSpotLogin`` renews an OAuth
token once), client-side pacing (``SlidingWindowPacer``), the ``Meter`` (the API budget, every attempt
counted; HubSpot's daily counters), and the translation of HubSpot's answers into our error tree
(``errors.TABLE``). hubspot-api-client speaks urllib3, not requests, so the client calls the meter
around its own send rather than mounting the kit's ``MeteredAdapter``.

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
from campaign_bridge.connectors.kit.calls import CallLoop, Login
from campaign_bridge.connectors.kit.errors import NO_ANSWER
from campaign_bridge.connectors.kit.metering import Meter, VendorUsage
from campaign_bridge.connectors.kit.session import warn_if_unverified
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
#: An access token's lifetime when HubSpot's answer omits ``expires_in`` (its documented 30 minutes).
DEFAULT_TOKEN_LIFETIME = 1800.0
#: HubSpot's burst limit counts an app's requests per rolling ten seconds.
RATE_WINDOW_SECONDS = 10.0

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


class HubSpotLogin(Login[str | None]):
    """The access token the generated client sends: a private app's, fixed; or an OAuth app's, minted from
    the refresh token and renewed shortly before HubSpot says it expires, or when HubSpot says it has."""

    def __init__(self, client: HubSpotClient, settings: HubSpotSettings, clock: Monotonic) -> None:
        super().__init__()
        self.client = client
        self._clock = clock
        self._oauth = settings.auth if isinstance(settings.auth, OAuthAuth) else None
        self._refresh_token = self._oauth.refresh_token.get_secret_value() if self._oauth else None
        self._token = settings.auth.token.get_secret_value() if isinstance(settings.auth, PrivateAppAuth) else None
        self._expires_at = float("-inf")

    @property
    def renewable(self) -> bool:
        return self._oauth is not None

    def stale(self) -> bool:
        return self._oauth is not None and self._clock() >= self._expires_at

    def login(self) -> str | None:
        """The private app's token, or a new OAuth access token given to every API object (one thread at a
        time, under the login's lock: a refresh token is not spent twice at once)."""
        if self._oauth is None:
            return self._token
        oauth, refresh_token = self._oauth, self._refresh_token
        try:
            reply = self.client.send_paced(
                "oauth.token",
                lambda o: self.client.tokens.create(
                    grant_type="refresh_token",
                    client_id=oauth.client_id,
                    client_secret=oauth.client_secret.get_secret_value(),
                    refresh_token=refresh_token,
                    **o,
                ),
            )
        except FatalError as exc:
            raise AuthError(f"{self.client.connection}: could not renew the OAuth access token: {exc}") from exc
        body = reply.obj()
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientError(f"{self.client.connection}: HubSpot's token answer carried no access_token")
        self._refresh_token = str(body.get("refresh_token") or refresh_token)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else DEFAULT_TOKEN_LIFETIME
        self._expires_at = self._clock() + max(0.0, lifetime - TOKEN_EXPIRY_MARGIN)
        self.client.use_token(token)
        return token


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
        self.pacer = SlidingWindowPacer(settings.rate_limit, RATE_WINDOW_SECONDS, clock=clock, sleep=sleep)
        self.search_pacer = SlidingWindowPacer(SEARCH_REQUESTS_PER_SECOND, 1.0, clock=clock, sleep=sleep)
        #: Daily counters HubSpot reports (private apps only).
        self.daily = VendorUsage(clock)
        self.meter = Meter(self.budget, observers=[self._note_daily])
        token = settings.auth.token.get_secret_value() if isinstance(settings.auth, PrivateAppAuth) else None
        warn_if_unverified(log, connection, None if settings.verify_tls else False, carrying="tokens")
        # urllib3 must not retry on its own: CallPolicy retries, and counts each attempt.
        no_retry = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        self._hubspot = hubspot.Client.create(
            access_token=token, host=settings.base_url, verify_ssl=settings.verify_tls, retry=no_retry
        )
        self._opts: dict[str, Any] = {"_preload_content": False, "_request_timeout": settings.timeout}
        #: How many 429s we met.
        self.rate_limited = 0
        self._lock = threading.Lock()  # API objects and counters
        self._apis: dict[str, Any] = {}
        self.loop = CallLoop(
            HubSpotLogin(self, settings, clock),
            policy,
            expired=ExpiredTokenError,
            refused_fresh=lambda _: f"{self.connection}: HubSpot refused a freshly renewed OAuth token",
        )

    @property
    def daily_limit(self) -> int | None:
        return self.daily.limit

    @property
    def daily_used(self) -> int | None:
        return self.daily.used

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
    def tokens(self) -> Any:
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
        of need (lookups, reads). A 401 ``EXPIRED_AUTHENTICATION`` renews an OAuth token once and repeats
        the request (``HubSpotLogin`` in the kit's ``CallLoop``).
        """
        return self.loop.call(lambda _token: self.send_paced(endpoint, request, search=search, first=first))

    def send_paced(self, endpoint: str, request: Request, *, search: bool = False, first: bool = False) -> Reply:
        """One request in a slot of the pacers (the search pacer too for a search), no retry, no renewal."""
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
        self.meter.before(endpoint)
        where = f"{self.connection}: {endpoint}"
        try:
            response = request(self._opts)
        except API_EXCEPTIONS as exc:
            status = int(getattr(exc, "status", 0) or 0)
            headers: Mapping[str, str] = getattr(exc, "headers", None) or {}
            observe_rate_headers(self.pacer, headers)
            if status == NO_ANSWER:  # the generated client's wrapping of TLS and request-building failures
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
        self.meter.after(headers)
        log.debug("%s -> %s", where, response.status)
        return Reply(int(response.status), _parse_json(where, raw, headers), headers)

    def _note_daily(self, headers: Mapping[str, str]) -> None:
        limit, remaining = headers.get("X-HubSpot-RateLimit-Daily"), headers.get("X-HubSpot-RateLimit-Daily-Remaining")
        if limit and remaining and limit.isdigit() and remaining.isdigit():
            self.daily.record(int(limit) - int(remaining), int(limit))

    def use_token(self, token: str) -> None:
        """Send ``token`` from now on, from every API object (those built already and those to come)."""
        self._hubspot.access_token = token
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
