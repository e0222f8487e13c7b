"""simple-salesforce wiring: one session, one budget, one retry policy, one error table.

Every HTTP attempt (logins, REST, Bulk API 2.0, retries) passes through ``MeteredAdapter``, mounted on
the connector's ``requests.Session``. Before sending, it charges the run's ``ApiBudget`` and refuses to
spend the last ``ORG_RESERVE_FRACTION`` of the org's daily allocation; after receiving, it reads the
``Sforce-Limit-Info`` header. ``SalesforceClient.call`` is the one place where vendor exceptions are
translated (``errors.TABLE``), an expired session is renewed once, and ``CallPolicy`` retries.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from simple_salesforce.api import Salesforce

from campaign_bridge.connectors.policy import ApiBudget, CallPolicy
from campaign_bridge.connectors.salesforce.auth import Authenticator, LoginResult
from campaign_bridge.connectors.salesforce.errors import VENDOR_ERRORS, SessionExpiredError, translate
from campaign_bridge.connectors.salesforce.settings import SalesforceSettings
from campaign_bridge.errors import AuthError, QuotaExhaustedError
from campaign_bridge.mapping.model import ApiUsage

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Stop before the org's own daily API usage passes ``1 - ORG_RESERVE_FRACTION`` of its allocation, so
#: this integration never drains the quota every other integration of the org depends on.
ORG_RESERVE_FRACTION = 0.05

_ENDPOINTS = (
    (re.compile(r"/services/oauth2/token"), "oauth2/token"),
    (re.compile(r"/services/Soap/u/"), "soap/login"),
    (re.compile(r"/services/data/v[\d.]+/(query|queryAll)(/|$)"), "query"),
    (re.compile(r"/services/data/v[\d.]+/composite/sobjects"), "composite/sobjects"),
    (re.compile(r"/services/data/v[\d.]+/jobs/(ingest|query)"), "jobs"),
)


def endpoint_of(path: str) -> str:
    """A short, stable name for the API a path belongs to (for ``ApiUsage.by_endpoint``)."""
    for pattern, name in _ENDPOINTS:
        match = pattern.search(path)
        if match:
            return f"jobs/{match.group(1)}" if name == "jobs" else name
    tail = re.sub(r"^/services/data/v[\d.]+/", "", path).strip("/")
    return tail.split("/")[0] or "other"


def _query_more(sf: Salesforce, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)


class OrgUsage:
    """The org's daily API counters as last reported in ``Sforce-Limit-Info`` (``api-usage=used/limit``).

    A reading is trusted for ``STALE_SECONDS``: Salesforce counts usage over a rolling 24 hours, so a
    connector that lives on (in ``serve``) must not refuse calls for ever on a morning's reading. Once the
    reading is stale the next call goes out and its answer gives a fresh one (or the 403 says it is still
    spent): at most one call per ``STALE_SECONDS`` while the org is at its reserve.
    """

    STALE_SECONDS = 300.0

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.used: int | None = None
        self.limit: int | None = None
        self.monotonic = monotonic
        self._seen_at = float("-inf")
        self._lock = threading.Lock()

    def observe(self, header: str | None) -> None:
        if not header:
            return
        usage = Salesforce.parse_api_usage(header).get("api-usage")
        if usage is not None:
            with self._lock:
                self.used, self.limit, self._seen_at = usage.used, usage.total, self.monotonic()

    def spent(self) -> None:
        """Salesforce answered REQUEST_LIMIT_EXCEEDED: the allocation is used up, whatever the last header said."""
        with self._lock:
            self.used = self.limit = self.limit or self.used or 1
            self._seen_at = self.monotonic()

    def check(self, connection: str) -> None:
        """Raise ``QuotaExhaustedError`` when the next call would eat into the org's reserve."""
        with self._lock:
            used, limit, age = self.used, self.limit, self.monotonic() - self._seen_at
        if used is None or not limit or age >= self.STALE_SECONDS:
            return
        if used >= limit * (1 - ORG_RESERVE_FRACTION):
            raise QuotaExhaustedError(
                f"{connection}: the org has used {used} of its {limit} daily API calls; stopping before the last "
                f"{ORG_RESERVE_FRACTION:.0%} so other integrations keep working. The next run resumes."
            )


class MeteredAdapter(BaseAdapter):
    """Wraps the transport adapter of a session: budget and org reserve before, limit header after.

    ``verify`` (a CA bundle path, or False) is applied here rather than on the session because requests
    lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` in the environment override ``Session.verify``; the
    connection's own ``ca_bundle`` setting must win.
    """

    def __init__(
        self, inner: BaseAdapter, budget: ApiBudget, org: OrgUsage, timeout: float, verify: str | bool | None
    ) -> None:
        super().__init__()
        self.inner, self.budget, self.org, self.timeout, self.verify = inner, budget, org, timeout, verify

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        path = urlsplit(request.url or "").path
        endpoint = endpoint_of(path)
        if endpoint not in ("oauth2/token", "soap/login"):
            self.org.check(self.budget.connection)
        self.budget.spend(endpoint)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if self.verify is not None:
            kwargs["verify"] = self.verify
        response = self.inner.send(request, **kwargs)
        self.org.observe(response.headers.get("Sforce-Limit-Info"))
        return response

    def close(self) -> None:
        self.inner.close()


def metered_session(
    settings: SalesforceSettings, budget: ApiBudget, org: OrgUsage, session: requests.Session | None = None
) -> requests.Session:
    """``session`` (or a new one) with every mounted adapter metered and TLS trust from the settings."""
    session = session or requests.Session()
    verify: str | bool | None = settings.ca_bundle or (None if settings.verify_tls else False)
    for prefix, adapter in list(session.adapters.items()):
        if not isinstance(adapter, MeteredAdapter):
            session.mount(prefix, MeteredAdapter(adapter, budget, org, settings.timeout, verify))
    return session


class SalesforceClient:
    """A logged-in simple-salesforce handle plus the policy that every call goes through."""

    def __init__(
        self,
        name: str,
        settings: SalesforceSettings,
        *,
        policy: CallPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.policy = policy or CallPolicy()
        self.budget = ApiBudget(settings.api_budget, name)
        if not settings.verify_tls and not settings.ca_bundle:
            log.warning(
                "%s: TLS certificate verification is OFF (verify_tls: false): anyone on the network path can "
                "read and change this connection's traffic, credentials included. Use ca_bundle for a private CA.",
                name,
            )
        self.org = OrgUsage()
        self.session = metered_session(settings, self.budget, self.org, session)
        self.auth = Authenticator(name, settings, self.session)
        self._sf: Salesforce | None = None
        # One login at a time. Everything else two threads share is safe as it is: simple-salesforce's
        # handle is read-only once built (it copies its headers per call), the session's connection pool
        # and cookie jar lock themselves, and the budget and org counters take their own locks.
        self._login_lock = threading.Lock()

    # -- session -------------------------------------------------------------------------------
    def _connect(self, login: LoginResult) -> Salesforce:
        return Salesforce(
            instance_url=login.instance_url,
            session_id=login.session_id,
            session=self.session,
            version=self.settings.api_version,
        )

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce handle, logging in on first use (once, whichever thread asks first)."""
        with self._login_lock:
            if self._sf is None:
                self._sf = self._connect(self.auth.login())
            return self._sf

    def _renew(self, expired: SessionExpiredError, stale: Salesforce) -> None:
        """Log in again, unless another thread already replaced the ``stale`` handle that was refused."""
        if not self.auth.renewable:
            raise AuthError(
                f"{self.name}: the Salesforce session has expired or was revoked; auth method 'session' cannot "
                "renew it. Supply a new session_id, or configure client_credentials, jwt_bearer or password."
            ) from expired
        with self._login_lock:
            if self._sf is stale:
                self._sf = self._connect(self.auth.login())

    # -- calls ---------------------------------------------------------------------------------
    def call(self, endpoint: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run ``fn(sf)`` under the error table, one re-login on an expired session, and the retry policy.

        ``idempotent=False`` (a Lead insert) makes one attempt only: a timeout there may have created the
        records, and the next run's lookup finds them instead of creating them twice.
        """

        def once(sf: Salesforce) -> T:
            try:
                return fn(sf)
            except VENDOR_ERRORS as exc:
                error = translate(exc, connection=self.name, endpoint=endpoint)
                if isinstance(error, QuotaExhaustedError):
                    self.org.spent()
                raise error from exc

        def attempt() -> T:
            sf = self.sf
            try:
                return once(sf)
            except SessionExpiredError as expired:
                self._renew(expired, sf)
            try:
                return once(self.sf)
            except SessionExpiredError as again:
                raise AuthError(f"{self.name}: Salesforce refused a fresh session: {again}") from again

        if idempotent:
            return self.policy.call(attempt)
        return attempt()

    def first_page(self, soql: str, *, include_deleted: bool = False) -> Mapping[str, Any]:
        """The first page of ``soql`` (``query``, or ``queryAll`` to include deleted rows): its
        ``totalSize`` counts every page."""
        endpoint = "queryAll" if include_deleted else "query"
        page: Mapping[str, Any] = self.call(endpoint, lambda sf: sf.query(soql, include_deleted=include_deleted))
        return page

    def records_from(self, page: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The records of ``page`` and of every page after it (2000 each), one policed call per page."""
        while True:
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.call("query", partial(_query_more, url=str(next_url)))

    def query_records(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of ``soql``, page by page (a generator)."""
        yield from self.records_from(self.first_page(soql, include_deleted=include_deleted))

    def usage(self) -> ApiUsage:
        calls, by_endpoint = self.budget.counts()
        return ApiUsage(calls=calls, used=self.org.used, limit=self.org.limit, by_endpoint=by_endpoint)

    def close(self) -> None:
        self.session.close()
