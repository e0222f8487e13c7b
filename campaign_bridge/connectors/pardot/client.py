"""The one place every Account Engagement request goes through: ``PardotClient.call``.

From the outside in: the kit's ``CallLoop`` (the connection's ``CallPolicy`` retries; ``PardotLogin`` logs
in with the Salesforce connector's own ``Authenticator`` and renews once when v5 answers 184), the pacer
(at most ``max_concurrent`` requests in flight: v5's cap is 5 per business unit), the metered ``requests``
session (the run's API budget, every attempt counted), and the translation of v5's answers
(``errors.TABLE``). Paging (``pages``) and the export API (``export``) are built on ``call``.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
from campaign_bridge.connectors.pardot.errors import TABLE, TokenRefusedError, parse_failure
from campaign_bridge.connectors.pardot.settings import PardotSettings
from campaign_bridge.connectors.salesforce.auth import Authenticator
from campaign_bridge.errors import FatalError, TransientError

log = logging.getLogger(__name__)

#: v5's largest page [D].
PAGE_SIZE = 1000
#: v5 has no per-second limit, only the concurrency cap: the pacer's window is never what holds a request.
UNBOUNDED_RATE = 1_000_000
#: Seconds between polls of an export that is not complete yet, and how many polls before giving up.
EXPORT_POLL_SECONDS = 2.0
EXPORT_MAX_POLLS = 150


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    text: str = ""


class PardotLogin(Login[str]):
    """The Salesforce access token, from the Salesforce connector's login flows."""

    def __init__(self, authenticator: Authenticator) -> None:
        super().__init__()
        self.authenticator = authenticator
        #: The Salesforce user the token belongs to (None for a bare session id): who our writes are by.
        self.user_id: str | None = None

    @property
    def renewable(self) -> bool:
        return self.authenticator.renewable

    def login(self) -> str:
        result = self.authenticator.login()
        self.user_id = result.user_id
        return result.session_id


def endpoint_of(path: str) -> str:
    """``/api/v5/objects/list-memberships/12`` → ``list-memberships``; logins → ``login``."""
    if path.startswith("/services/"):
        return "login"
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[2] == "objects":
        return parts[3]
    return parts[2] if len(parts) >= 3 else path


class PardotClient:
    """Paced, budgeted, retried access to one business unit; safe to share between threads."""

    def __init__(
        self,
        connection: str,
        settings: PardotSettings,
        *,
        policy: CallPolicy,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection, self.settings, self.sleep = connection, settings, sleep
        self.budget = ApiBudget(settings.api_budget, connection)
        self.meter = Meter(self.budget)
        verify = tls_verify(settings.ca_bundle, settings.verify_tls)
        warn_if_unverified(log, connection, verify, carrying="Salesforce tokens")
        self.session = metered_session(self.meter, endpoint_of=endpoint_of, timeout=settings.timeout, verify=verify)
        self.pacer = SlidingWindowPacer(
            UNBOUNDED_RATE, 1.0, clock=monotonic, sleep=sleep, max_in_flight=settings.max_concurrent
        )
        authenticator = Authenticator(connection, settings.salesforce(), self.session)
        self.login = PardotLogin(authenticator)
        self.loop = CallLoop(
            self.login,
            policy,
            expired=TokenRefusedError,
            refused_fresh=lambda _: f"{connection}: Account Engagement refused a freshly issued Salesforce token",
        )

    def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None, idempotent: bool = True
    ) -> Reply:
        """One v5 request under the connection's policy; raises the error tree."""
        return self.loop.call(lambda token: self._send(token, method, path, params, json), idempotent=idempotent)

    def _send(self, token: str, method: str, path: str, params: dict[str, Any] | None, body: Any) -> Reply:
        url = path if path.startswith("http") else f"{self.settings.base_url}{path}"
        where = f"{self.connection}: {method} {endpoint_of(urlsplit(url).path)}"
        headers = {"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": self.settings.business_unit_id}
        self.pacer.acquire(first=method != "GET")
        try:
            response = self.session.request(method, url, params=params, json=body, headers=headers)
        except requests.RequestException as exc:
            error = requests_failure(exc, connection=self.connection, vendor="Account Engagement", endpoint=where)
            raise (error or TransientError(f"{where}: {type(exc).__name__}")) from exc
        finally:
            self.pacer.release()
        if response.status_code >= 300:
            failure = parse_failure(where, response.status_code, response.content, response.headers)
            raise TABLE.translate(failure)
        if not response.content:
            return Reply(response.status_code, None, response.headers)
        if "csv" in response.headers.get("Content-Type", ""):
            return Reply(response.status_code, None, response.headers, response.text)
        try:
            return Reply(response.status_code, response.json(), response.headers)
        except ValueError as exc:
            raise TransientError(f"{where}: Account Engagement answered a body that is not JSON") from exc

    # -- reads ---------------------------------------------------------------------------------------
    def first_page(
        self, obj: str, fields: list[str], params: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The first page of a v5 query (1,000 records) and its ``nextPageToken`` (None on the last page)."""
        reply = self.call(
            "GET", f"/api/v5/objects/{obj}", params={**params, "fields": ",".join(fields), "limit": PAGE_SIZE}
        )
        return self._page(obj, reply)

    def pages(
        self, obj: str, fields: list[str], params: dict[str, Any], *, after: str | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a v5 query, 1,000 records each (from the page ``after`` names, when given); raises
        ``FatalError`` past v5's 100,000-record cap (``Pardot-Warning: 203``): the export API reads those."""
        if after is None:
            values, token = self.first_page(obj, fields, params)
            yield values
        else:
            token = after
        while token:
            reply = self.call(
                "GET", f"/api/v5/objects/{obj}", params={"nextPageToken": token, "fields": ",".join(fields)}
            )
            values, token = self._page(obj, reply)
            yield values

    def _page(self, obj: str, reply: Reply) -> tuple[list[dict[str, Any]], str | None]:
        body = reply.body if isinstance(reply.body, dict) else {}
        values = body.get("values")
        if not isinstance(values, list):
            raise TransientError(f"{self.connection}: Account Engagement's {obj} page had no values")
        if reply.headers.get("Pardot-Warning") == "203":
            raise FatalError(
                f"{self.connection}: {obj}: v5 stops a query at 100,000 records (Pardot-Warning 203); "
                "set read_export: always to read it through the export API"
            )
        token = body.get("nextPageToken")
        return values, str(token) if token else None

    def export(
        self, obj: str, fields: list[str], procedure: str, arguments: dict[str, Any]
    ) -> Iterator[dict[str, str]]:
        """The rows of an export job (create, poll until complete, download each file), as CSV dicts."""
        body = {"object": obj, "fields": fields, "procedure": {"name": procedure, "arguments": arguments}}
        created = self.call("POST", "/api/v5/exports", json=body, idempotent=False).body
        export_id = created.get("id") if isinstance(created, dict) else None
        if export_id is None:
            raise TransientError(f"{self.connection}: Account Engagement's export answer carried no id")
        for attempt in range(EXPORT_MAX_POLLS):
            status = self.call("GET", f"/api/v5/exports/{export_id}").body
            if isinstance(status, dict) and status.get("status") == "Complete":
                refs = status.get("resultRefs") or []
                break
            if isinstance(status, dict) and status.get("status") == "Failed":
                raise TransientError(f"{self.connection}: Account Engagement export {export_id} failed")
            if attempt + 1 < EXPORT_MAX_POLLS:
                self.sleep(EXPORT_POLL_SECONDS)
        else:
            raise TransientError(f"{self.connection}: export {export_id} did not complete; the next run tries again")
        for ref in refs:
            text = self.call("GET", str(ref)).text
            yield from csv.DictReader(io.StringIO(text))
