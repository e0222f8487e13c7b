"""simple-salesforce wiring on the connector kit: one session, one budget, one retry policy, one error table.

Every HTTP attempt (logins, REST, Bulk API 2.0, retries) passes through the kit's ``MeteredAdapter``,
mounted on the connector's ``requests.Session``. Before sending, its ``Meter`` refuses to spend the last
``ORG_RESERVE_FRACTION`` of the org's daily allocation and charges the run's ``ApiBudget``; after
receiving, it reads the ``Sforce-Limit-Info`` header. ``SalesforceClient.call`` is the one place where
vendor exceptions are translated (``errors.TABLE``), and runs in the kit's ``CallLoop``: ``CallPolicy``
retries, and an expired session is renewed once (``SalesforceLogin``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce

from campaign_bridge.connectors.kit.calls import CallLoop, Login
from campaign_bridge.connectors.kit.metering import Meter, VendorUsage
from campaign_bridge.connectors.kit.session import metered_session, tls_verify, warn_if_unverified
from campaign_bridge.connectors.policy import ApiBudget, CallPolicy
from campaign_bridge.connectors.salesforce.auth import Authenticator
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


#: Endpoints that log in: they spend none of the org's daily allocation.
LOGIN_ENDPOINTS = frozenset({"oauth2/token", "soap/login"})


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


class OrgUsage(VendorUsage):
    """The org's daily API counters as last reported in ``Sforce-Limit-Info`` (``api-usage=used/limit``).

    A reading is trusted for ``STALE_SECONDS``: Salesforce counts usage over a rolling 24 hours, so a
    connector that lives on (in ``serve``) must not refuse calls for ever on a morning's reading. Once the
    reading is stale the next call goes out and its answer gives a fresh one (or the 403 says it is still
    spent): at most one call per ``STALE_SECONDS`` while the org is at its reserve.
    """

    def observe(self, headers: Mapping[str, str]) -> None:
        header = headers.get("Sforce-Limit-Info")
        if not header:
            return
        usage = Salesforce.parse_api_usage(header).get("api-usage")
        if usage is not None:
            self.record(usage.used, usage.total)

    def spent(self) -> None:
        """Salesforce answered REQUEST_LIMIT_EXCEEDED: the allocation is used up, whatever the last header said."""
        used, limit, _ = self.reading()
        spent = limit or used or 1
        self.record(spent, spent)

    def check(self, connection: str) -> None:
        """Raise ``QuotaExhaustedError`` when the next call would eat into the org's reserve."""
        used, limit, fresh = self.reading()
        if used is None or not limit or not fresh:
            return
        if used >= limit * (1 - ORG_RESERVE_FRACTION):
            raise QuotaExhaustedError(
                f"{connection}: the org has used {used} of its {limit} daily API calls; stopping before the last "
                f"{ORG_RESERVE_FRACTION:.0%} so other integrations keep working. The next run resumes."
            )


class SalesforceLogin(Login[Salesforce]):
    """A simple-salesforce handle from one of the four login flows; a plain session id cannot be renewed."""

    def __init__(self, name: str, settings: SalesforceSettings, session: requests.Session) -> None:
        super().__init__()
        self.name = name
        self.settings = settings
        self.session = session
        self.auth = Authenticator(name, settings, session)
        self.user_id: str | None = None  # the integration user, once logged in (see LoginResult.user_id)

    def login(self) -> Salesforce:
        # simple-salesforce's handle is read-only once built (it copies its headers per call), so threads
        # share it; only replacing it takes the lock.
        login = self.auth.login()
        self.user_id = login.user_id
        return Salesforce(
            instance_url=login.instance_url,
            session_id=login.session_id,
            session=self.session,
            version=self.settings.api_version,
        )

    @property
    def renewable(self) -> bool:
        return self.auth.renewable

    def unrenewable(self, expired: AuthError) -> AuthError:
        return AuthError(
            f"{self.name}: the Salesforce session has expired or was revoked; auth method 'session' cannot "
            "renew it. Supply a new session_id, or configure client_credentials, jwt_bearer or password."
        )


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
        verify = tls_verify(settings.ca_bundle, settings.verify_tls)
        warn_if_unverified(log, name, verify, carrying="credentials", hint=". Use ca_bundle for a private CA.")
        self.org = OrgUsage()
        self.meter = Meter(self.budget, guard=self._reserve, observers=[self.org.observe])
        self.session = metered_session(
            self.meter, endpoint_of=endpoint_of, timeout=settings.timeout, verify=verify, session=session
        )
        self.login = SalesforceLogin(name, settings, self.session)
        self.loop = CallLoop(
            self.login,
            self.policy,
            expired=SessionExpiredError,
            refused_fresh=lambda again: f"{self.name}: Salesforce refused a fresh session: {again}",
        )

    def _reserve(self, endpoint: str) -> None:
        # Logging in spends none of the org's daily allocation, and is how a stale reading is refreshed.
        if endpoint not in LOGIN_ENDPOINTS:
            self.org.check(self.name)

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce handle, logging in on first use (once, whichever thread asks first)."""
        return self.login.current()

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

        return self.loop.call(once, idempotent=idempotent)

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
