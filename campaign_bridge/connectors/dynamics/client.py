"""The Dataverse client: msal for Entra ID tokens, ``requests`` on the connector kit for the Web API.

Why not Microsoft's PowerPlatform-Dataverse-Client (1.1.0, checked on PyPI and read): it covers records,
queries, metadata and ``$batch`` of CRUD, but has no call for the marketing-list actions (``AddListMembersList``,
``RemoveMemberList``, ``AddItemCampaign``) nor bound actions inside a batch, and it pulls pandas and
azure-identity in. The tests drive it unmodified against the sandbox; the connector speaks the Web API itself.

Every request: the pacer (service protection: requests per sliding window, requests in flight), then the
kit's ``CallLoop`` (retry policy; a 401 gets a fresh token from msal once), then the metered session (the run's
budget, the connection's CA bundle per request). msal's own calls (OpenID configuration, token) go through
the same metered session. Its HTTP cache (the tenant's OpenID configuration) and token cache are kept per
(authority, app) in this process, so a connector built for each run does not sign in again while its token
lives.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import msal.exceptions
import requests

from campaign_bridge.connectors.dynamics.errors import TokenExpiredError, parse_failure, translate
from campaign_bridge.connectors.dynamics.settings import CertificateAuth, DynamicsSettings
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
from campaign_bridge.connectors.kit.pacing import Monotonic, Sleep, header_int, observe_remaining
from campaign_bridge.connectors.policy import MAX_RATE_LIMIT_WAIT
from campaign_bridge.errors import AuthError, CampaignBridgeError, FatalError, RateLimitedError, TransientError

log = logging.getLogger(__name__)

API = "/api/data/v9.2"
#: Dataverse's page size: the default and the most ``Prefer: odata.maxpagesize`` gets [D].
PAGE_SIZE = 5000
#: Requests in one ``$batch`` [D].
BATCH_LIMIT = 1000
#: The wait after a 429 that carries no ``Retry-After`` (Dataverse always sends one).
RETRY_AFTER_DEFAULT = 5.0
#: A token is renewed this long before msal's announced expiry.
TOKEN_MARGIN = 120.0
HEADERS = {"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"}

# msal's caches, per (authority, client id): shared by the connectors of one process (see the docstring).
_HTTP_CACHES: dict[tuple[str, str], dict[Any, Any]] = {}
_TOKEN_CACHES: dict[tuple[str, str], msal.TokenCache] = {}
_CACHES_LOCK = threading.Lock()


def endpoint_of(path: str) -> str:
    """A short name for a URL path: ``token``, ``$batch``, ``contacts``, ``lists.AddMemberList``…"""
    if "/oauth2/" in path:
        return "entra.token"
    if "openid-configuration" in path:
        return "entra.openid"
    rest = path.split(API, 1)[-1].strip("/")
    rest = re.sub(r"\([^)]*\)", "", rest).replace("Microsoft.Dynamics.CRM.", "")
    return ".".join(p for p in rest.split("/") if p) or "root"


@dataclass(frozen=True, slots=True)
class Op:
    """One request of a ``$batch``: method, path below the API root (with its query), JSON body."""

    method: str
    path: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of a ``$batch``, or of a plain request."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.status < 400

    def error(self) -> tuple[str, str]:
        """Dataverse's (code, message) of a failed answer."""
        err = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(err, dict):
            return str(err.get("code") or f"HTTP{self.status}"), str(err.get("message") or "")
        return f"HTTP{self.status}", str(self.body or "")[:200]


class DataverseLogin(Login[str]):
    """An access token from msal (client secret or certificate), renewed before it expires or when refused."""

    def __init__(self, client: DataverseClient) -> None:
        super().__init__()
        self.client = client
        self._expires_at = float("-inf")
        self._app: msal.ConfidentialClientApplication | None = None

    def stale(self) -> bool:
        return self.client.monotonic() >= self._expires_at

    def renew(self, refused: str, expired: AuthError) -> None:
        with self._lock:
            if self._handle == refused and self._app is not None:
                self._app.remove_tokens_for_client()  # msal would hand the refused token back from its cache
        super().renew(refused, expired)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            s, conn = self.client.settings, self.client.connection
            auth = s.auth
            credential: Any
            if isinstance(auth, CertificateAuth):
                try:
                    key = Path(auth.private_key_file).read_text()
                except OSError as exc:
                    raise FatalError(
                        f"{conn}: cannot read the certificate's private key file ({type(exc).__name__})"
                    ) from exc
                credential = {"private_key": key, "thumbprint": auth.thumbprint}
                if auth.private_key_password is not None:
                    credential["passphrase"] = auth.private_key_password.get_secret_value()
            else:
                credential = auth.client_secret.get_secret_value()
            authority = f"{s.authority_host}/{s.tenant_id}"
            key_ = (authority, auth.client_id)
            with _CACHES_LOCK:
                http_cache = _HTTP_CACHES.setdefault(key_, {})
                token_cache = _TOKEN_CACHES.setdefault(key_, msal.TokenCache())
            try:
                self._app = msal.ConfidentialClientApplication(
                    auth.client_id,
                    client_credential=credential,
                    authority=authority,
                    http_client=self.client.session,
                    # Never reach the internet for instance discovery; the authority is the tenant's own.
                    instance_discovery=False,
                    validate_authority=False,
                    token_cache=token_cache,
                    http_cache=http_cache,
                    timeout=s.timeout,
                )
            except (requests.RequestException, msal.exceptions.MsalError, json.JSONDecodeError) as exc:
                raise _entra_failure(exc, conn, "openid") from exc
            except ValueError as exc:  # msal: the tenant's OpenID configuration was refused (4xx) or unreadable
                if isinstance(exc.__context__, json.JSONDecodeError):
                    raise _entra_failure(exc.__context__, conn, "openid") from exc
                raise AuthError(f"{conn}: Entra ID refused the tenant {s.tenant_id!r}: {exc}") from exc
        return self._app

    def login(self) -> str:
        conn = self.client.connection
        try:
            result = self._application().acquire_token_for_client([f"{self.client.settings.url}/.default"])
        except (requests.RequestException, msal.exceptions.MsalError, json.JSONDecodeError) as exc:
            raise _entra_failure(exc, conn, "token") from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = result.get("error", "no token") if isinstance(result, dict) else "no answer"
            words = str(result.get("error_description", "") if isinstance(result, dict) else "").split(" Trace ID")[0]
            raise AuthError(f"{conn}: Entra ID refused the app's credentials: {error}: {words}")
        lifetime = float(result.get("expires_in") or 3599)
        self._expires_at = self.client.monotonic() + max(0.0, lifetime - TOKEN_MARGIN)
        return str(token)


def _entra_failure(exc: BaseException, connection: str, endpoint: str) -> CampaignBridgeError:
    """Entra ID's failures as msal raises them: no answer, a 5xx or 429 (msal holds such an answer a few
    seconds before it asks again), a body that is not JSON: all transient."""
    if isinstance(exc, requests.RequestException):
        return requests_failure(exc, connection=connection, vendor="Entra ID", endpoint=endpoint) or TransientError(
            f"{connection}: Entra ID {endpoint} failed ({type(exc).__name__})"
        )
    if isinstance(exc, json.JSONDecodeError):
        return TransientError(f"{connection}: Entra ID {endpoint} answered a body that is not JSON")
    return TransientError(f"{connection}: Entra ID {endpoint} failed: {exc}")


class DataverseClient:
    """Paced, budgeted, retried Web API access to one environment. Safe for two threads at once: the pacer,
    budget, login and the session's pools are shared under their own locks."""

    def __init__(
        self,
        connection: str,
        settings: DynamicsSettings,
        *,
        policy: CallPolicy,
        monotonic: Monotonic,
        sleep: Sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.connection, self.settings, self.policy, self.monotonic = connection, settings, policy, monotonic
        self.budget = ApiBudget(settings.api_budget, connection)
        self.pacer = SlidingWindowPacer(
            settings.requests_per_window,
            settings.window_seconds,
            clock=monotonic,
            sleep=sleep,
            max_in_flight=settings.concurrent_requests,
        )
        self.meter = Meter(self.budget, observers=[self._remaining])
        verify = tls_verify(settings.ca_bundle, settings.verify_tls)
        warn_if_unverified(log, connection, verify, carrying="tokens and client secrets")
        self.session = metered_session(
            self.meter, endpoint_of=endpoint_of, timeout=settings.timeout, verify=verify, session=session
        )
        self.root = f"{settings.url}{API}"
        self.login = DataverseLogin(self)
        self.loop = CallLoop(
            self.login,
            policy,
            expired=TokenExpiredError,
            refused_fresh=lambda e: f"{connection}: Dataverse refused a fresh access token: {e}",
        )
        self.rate_limited = 0

    def _remaining(self, headers: Mapping[str, str]) -> None:
        """Hold when Dataverse says this user's window is spent. The count is the app user's own (service
        protection is per user), so no reserve is kept for other integrations: it would cost a whole slot."""
        remaining = header_int(headers, "x-ms-ratelimit-burst-remaining-xrm-requests")
        observe_remaining(self.pacer, remaining, reserve=0)

    # -- one request -------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        first: bool = False,
    ) -> Answer:
        """One Web API request (``path`` below the API root, or an absolute ``@odata.nextLink``); raises the
        error tree for a failed answer.

        A write (``idempotent=False``) is not retried after a failure that may have done the work, but a 429 is
        refused by service protection before anything runs, so it is sent again once the pacer has held for
        ``Retry-After`` (up to the policy's attempts)."""
        url = path if path.startswith("https://") else f"{self.root}/{path.lstrip('/')}"

        def once(token: str) -> Answer:
            return self._send(method, url, token, body, data, headers, first)

        if idempotent:
            return self.loop.call(once)
        for attempt in range(1, self.policy.attempts + 1):
            try:
                return self.loop.call(once, idempotent=False)
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else RETRY_AFTER_DEFAULT
                if attempt == self.policy.attempts or wait > MAX_RATE_LIMIT_WAIT:
                    raise
                self.pacer.hold(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self,
        method: str,
        url: str,
        token: str,
        body: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        first: bool,
    ) -> Answer:
        where = f"{self.connection}: {endpoint_of(urlsplit(url).path)}"
        sent = {**HEADERS, "Authorization": f"Bearer {token}", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(body).encode("utf-8")
        self.pacer.acquire(first=first)
        try:
            response = self.session.request(method, url, data=data, headers=sent)
        except requests.RequestException as exc:
            raise requests_failure(exc, connection=self.connection, vendor="Dataverse", endpoint=where) or exc from exc
        finally:
            self.pacer.release()
        if response.status_code >= 400:
            if response.status_code == 429:
                self.rate_limited += 1
            raise translate(parse_failure(where, response.status_code, response.content, response.headers))
        return Answer(response.status_code, self._body(where, response), response.headers)

    def _body(self, where: str, response: requests.Response) -> Any:
        ctype = response.headers.get("Content-Type", "")
        if not response.content:
            return None
        if ctype.startswith("multipart/mixed"):
            return response.content
        if "json" not in ctype:
            raise TransientError(f"{where}: Dataverse answered with {ctype or 'no content type'}, not JSON")
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(f"{where}: Dataverse's answer is not valid JSON") from exc

    # -- reads -------------------------------------------------------------------------------------------
    def pages(self, path: str, first: Answer | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a collection at ``path`` (5,000 rows a page), following ``@odata.nextLink``; ``first``:
        the first page, already read (in a ``$batch``)."""
        headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        answer = first or self.call("GET", path, headers=headers)
        while True:
            body = answer.body if isinstance(answer.body, dict) else {}
            yield list(body.get("value") or [])
            nxt = body.get("@odata.nextLink")
            if not nxt:
                return
            answer = self.call("GET", str(nxt), headers=headers)

    # -- $batch ------------------------------------------------------------------------------------------
    def batch(self, ops: Sequence[Op], *, first: bool = False) -> list[Answer]:
        """The ops in ``$batch`` calls of at most 1,000, each op answered on its own
        (``odata.continue-on-error``). Not retried as a whole when it holds a write: a timeout may have done
        the work, which the next read finds."""
        answers: list[Answer] = []
        for i in range(0, len(ops), BATCH_LIMIT):
            chunk = ops[i : i + BATCH_LIMIT]
            boundary = f"batch_{uuid.uuid4()}"
            payload = _batch_body(self.root, chunk, boundary)
            reads_only = all(op.method == "GET" for op in chunk)
            answer = self.call(
                "POST",
                "$batch",
                data=payload,
                headers={
                    "Content-Type": f"multipart/mixed; boundary={boundary}",
                    "Prefer": "odata.continue-on-error",
                },
                idempotent=reads_only,
                first=first,
            )
            parsed = _batch_answers(answer)
            if len(parsed) != len(chunk):
                raise TransientError(
                    f"{self.connection}: Dataverse answered {len(parsed)} of {len(chunk)} requests of a $batch"
                )
            answers += parsed
        return answers

    def close(self) -> None:
        self.session.close()


def _batch_body(root: str, ops: Sequence[Op], boundary: str) -> bytes:
    parts = []
    for op in ops:
        lines = [f"{op.method} {root}/{op.path} HTTP/1.1", "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in op.headers.items()]
        body = ""
        if op.body is not None:
            lines.append("Content-Type: application/json; type=entry")
            body = json.dumps(op.body)
        parts.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            + "\r\n".join(lines)
            + f"\r\n\r\n{body}\r\n"
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")


def _batch_answers(answer: Answer) -> list[Answer]:
    """The answers in a ``$batch`` response body (multipart/mixed), in order."""
    ctype = answer.headers.get("Content-Type", "")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if m is None or not isinstance(answer.body, bytes):
        raise TransientError(f"Dataverse answered a $batch with {ctype or 'no content type'}, not multipart/mixed")
    out: list[Answer] = []
    text = answer.body.decode("utf-8")
    for chunk in text.split(f"--{m.group(1)}")[1:]:
        if chunk.startswith("--"):
            break
        _, _, http = chunk.replace("\r\n", "\n").partition("\n\n")
        status_line, _, rest = http.partition("\n")
        head, _, body = rest.partition("\n\n")
        try:
            status = int(status_line.split(" ")[1])
        except (IndexError, ValueError):
            raise TransientError(
                f"Dataverse answered a $batch part without a status line: {status_line[:80]!r}"
            ) from None
        headers = {}
        for line in head.split("\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip()] = value.strip()
        text_body = body.strip()
        try:
            parsed: Any = json.loads(text_body) if text_body else None
        except ValueError:
            parsed = text_body
        out.append(Answer(status, parsed, headers))
    return out


def path(resource: str, **params: str) -> str:
    """``resource?$select=…&$filter=…``, each value percent-encoded (a ``+`` or a space in an email included),
    keys given without their ``$`` (``select=`` → ``$select=``)."""
    if not params:
        return resource
    query = "&".join(f"{'' if k == 'fetchXml' else '$'}{k}={_encode(v)}" for k, v in params.items())
    return f"{resource}?{query}"


def _encode(value: str) -> str:
    return urllib.parse.quote(value, safe="$',()=[]/:*")


def quote(value: str) -> str:
    """An OData string literal: in single quotes, a quote doubled (an email's quote cannot end the literal)."""
    return "'" + value.replace("'", "''") + "'"


def in_filter(prop: str, values: Sequence[str]) -> str:
    """``Microsoft.Dynamics.CRM.In(PropertyName='prop',PropertyValues=[…])``, every value quoted."""
    return (
        f"Microsoft.Dynamics.CRM.In(PropertyName={quote(prop)},PropertyValues=[{','.join(quote(v) for v in values)}])"
    )


def entity_id(location: str | None) -> str | None:
    """The GUID in an ``OData-EntityId`` header."""
    m = re.search(r"\(([0-9a-fA-F-]{36})\)\s*$", location or "")
    return m.group(1).lower() if m else None
