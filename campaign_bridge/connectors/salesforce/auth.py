"""Logging in to Salesforce: the four flows of ``settings.auth``, done with plain ``requests``.

The connector logs in itself (rather than letting simple-salesforce do it) so that any login host works:
``login``/``test.salesforce.com``, an org's My Domain, or a local emulator behind a private CA. The result
is a session id and the instance URL to hand to ``simple_salesforce.Salesforce``.

``login`` raises ``AuthError`` when Salesforce refuses the credentials (message: the vendor's error code
and description, never a secret), ``TransientError`` when the login host fails or answers garbage.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import jwt
import requests

from campaign_bridge.connectors.salesforce.settings import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordAuth,
    SalesforceSettings,
    SessionAuth,
)
from campaign_bridge.errors import AuthError, FatalError, RateLimitedError, TransientError, redact_credentials

#: Lifetime of a JWT bearer assertion; Salesforce accepts at most a few minutes.
JWT_LIFETIME_SECONDS = 180
#: Sent as the SOAP ``CallOptions.client`` so admins can tell our logins apart in the login history.
CLIENT_NAME = "campaign-bridge"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A session to use; the id is kept out of ``repr`` because it is as good as a password."""

    session_id: str = field(repr=False)
    instance_url: str
    #: The integration user's id (the token's identity URL, the SOAP login's userId); None for a bare
    #: session id. Records it creates carry it as ``CreatedById``: how a run tells its adds from a person's.
    user_id: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _xml_values(body: bytes, *names: str) -> dict[str, str]:
    """Text of the first element with each local name (namespaces ignored, as Salesforce varies them)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    found: dict[str, str] = {}
    for element in root.iter():
        name = _local(element.tag)
        if name in names and name not in found:
            found[name] = (element.text or "").strip()
    return found


def jwt_audience(login_url: str) -> str:
    """The ``aud`` Salesforce expects: its authorization server, never the org's own host. Sandboxes
    (``test.salesforce.com``, ``*.sandbox.my.salesforce.com``) use the test server, every other org the
    production one, even when it logs in through its My Domain."""
    host = urlsplit(login_url).hostname or ""
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    return "https://login.salesforce.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").replace("-api.", ".")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class Authenticator:
    """Performs the configured login flow against ``settings.login_url`` with ``session``.

    ``renewable`` is False for a plain session id: when it expires a person must supply a new one.
    """

    def __init__(self, name: str, settings: SalesforceSettings, session: requests.Session) -> None:
        self.name = name
        self.settings = settings
        self.session = session

    @property
    def renewable(self) -> bool:
        return not isinstance(self.settings.auth, SessionAuth)

    def login(self) -> LoginResult:
        auth = self.settings.auth
        if isinstance(auth, SessionAuth):
            assert self.settings.instance_url is not None  # checked by the settings model
            return LoginResult(auth.session_id.get_secret_value(), self.settings.instance_url)
        if isinstance(auth, ClientCredentialsAuth):
            basic = f"{auth.client_id}:{auth.client_secret.get_secret_value()}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(basic).decode("ascii")}
            return self._token({"grant_type": "client_credentials"}, headers)
        if isinstance(auth, JwtBearerAuth):
            return self._token(
                {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self._assertion(auth)}, {}
            )
        if auth.client_id is not None and auth.client_secret is not None:
            return self._token(
                {
                    "grant_type": "password",
                    "client_id": auth.client_id,
                    "client_secret": auth.client_secret.get_secret_value(),
                    "username": auth.username,
                    "password": auth.password.get_secret_value() + auth.security_token.get_secret_value(),
                },
                {},
            )
        return self._soap(auth)

    # -- flows ---------------------------------------------------------------------------------
    def _assertion(self, auth: JwtBearerAuth) -> str:
        if auth.private_key is not None:
            key = auth.private_key.get_secret_value()
        else:
            assert auth.private_key_file is not None  # exactly one is set: checked by the settings model
            try:
                key = Path(auth.private_key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise FatalError(f"{self.name}: cannot read private_key_file: {exc.strerror}") from exc
        claims = {
            "iss": auth.client_id,
            "sub": auth.username,
            "aud": auth.audience or jwt_audience(self.settings.login_url),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # The key's text must not reach the message; its type of problem is enough.
            raise FatalError(
                f"{self.name}: the JWT private key is not a usable RSA key ({type(exc).__name__})"
            ) from exc

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> LoginResult:
        url = f"{self.settings.token_base_url}/services/oauth2/token"
        response = self._post(url, data=form, headers={"Accept": "application/json", **headers})
        try:
            body = response.json()
        except (json.JSONDecodeError, requests.exceptions.JSONDecodeError) as exc:
            raise self._unreadable(response) from exc
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "unknown_error") if isinstance(body, dict) else "unknown_error"
            detail = body.get("error_description", "") if isinstance(body, dict) else ""
            if response.status_code >= 500 or response.status_code == 429:
                raise _busy(self.name, response, str(error))
            # the vendor's words, not ours: a gateway may echo the request's Basic header in them
            raise AuthError(redact_credentials(f"{self.name}: Salesforce refused the login ({error}: {detail})"))
        instance = body.get("instance_url") or self.settings.instance_url
        if not instance:
            raise AuthError(f"{self.name}: the Salesforce token response named no instance_url")
        identity = str(body.get("id") or "")  # https://login.salesforce.com/id/<org id>/<user id>
        return LoginResult(str(body["access_token"]), _origin(str(instance)), identity.rsplit("/", 1)[-1] or None)

    def _soap(self, auth: PasswordAuth) -> LoginResult:
        url = f"{self.settings.login_url}/services/Soap/u/{self.settings.api_version}"
        password = escape(auth.password.get_secret_value() + auth.security_token.get_secret_value())
        envelope = (
            '<?xml version="1.0" encoding="utf-8" ?>'
            '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
            f"<env:Header><urn:CallOptions><urn:client>{CLIENT_NAME}</urn:client></urn:CallOptions></env:Header>"
            '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
            f"<n1:username>{escape(auth.username)}</n1:username><n1:password>{password}</n1:password>"
            "</n1:login></env:Body></env:Envelope>"
        )
        headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"}
        response = self._post(url, data=envelope.encode("utf-8"), headers=headers)
        values = _xml_values(
            response.content,
            "sessionId",
            "serverUrl",
            "userId",
            "exceptionCode",
            "exceptionMessage",
            "faultcode",
            "faultstring",
        )
        if response.status_code == 200 and values.get("sessionId") and values.get("serverUrl"):
            return LoginResult(values["sessionId"], _origin(values["serverUrl"]), values.get("userId") or None)
        if response.status_code == 429:
            raise _busy(self.name, response, "too many requests")
        if not values or response.status_code >= 502:
            raise self._unreadable(response)
        code = values.get("exceptionCode") or values.get("faultcode") or str(response.status_code)
        detail = values.get("exceptionMessage") or values.get("faultstring", "").removeprefix(f"{code}: ")
        raise AuthError(redact_credentials(f"{self.name}: Salesforce refused the login ({code}: {detail})"))

    # -- transport -----------------------------------------------------------------------------
    def _post(self, url: str, *, data: bytes | dict[str, str], headers: dict[str, str]) -> requests.Response:
        try:
            return self.session.post(url, data=data, headers=headers, timeout=self.settings.timeout)
        except requests.exceptions.SSLError as exc:
            raise FatalError(
                f"{self.name}: TLS verification failed for the Salesforce login host; "
                "set ca_bundle to the CA that signed its certificate"
            ) from exc
        except requests.RequestException as exc:
            raise TransientError(f"{self.name}: Salesforce login failed ({type(exc).__name__})") from exc

    def _unreadable(self, response: requests.Response) -> TransientError | FatalError:
        if response.status_code >= 500 or response.status_code in (200, 429):
            return TransientError(
                f"{self.name}: Salesforce login answered {response.status_code} with an unreadable body"
            )
        return FatalError(
            f"{self.name}: Salesforce login answered {response.status_code} with an unreadable body; check login_url"
        )


def _busy(name: str, response: requests.Response, error: str) -> TransientError:
    """A login host that is overloaded (5xx) or asks us to slow down (429): retry, it is not a refusal."""
    message = redact_credentials(f"{name}: Salesforce login answered {response.status_code}: {error}")
    if response.status_code != 429:
        return TransientError(message)
    retry_after = response.headers.get("Retry-After", "")
    return RateLimitedError(message, retry_after=float(retry_after) if retry_after.isdigit() else None)
