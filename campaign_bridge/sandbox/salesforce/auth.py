"""Login endpoints: SOAP ``login`` and the OAuth 2.0 token endpoint (password, client_credentials, JWT bearer).

Both answer exactly what simple-salesforce parses (see api-facts §1): SOAP success carries un-prefixed
``sessionId``/``serverUrl`` under a default namespace, SOAP failure is an HTTP 500 fault with
``sf:exceptionCode``; OAuth failure is a 400 ``{"error", "error_description"}``. Logins never count
against the API allocation and are never refused for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import jwt

from ..http import Request, Response, Router
from .state import SalesforceState

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SESSION_SECONDS = 7200

_FAULT = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>\
<faultcode>{code}</faultcode><faultstring>{code}: {message}</faultstring><detail>\
<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>\
<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>\
</soapenv:Body></soapenv:Envelope>"""

_LOGIN_OK = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>\
<metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl>\
<passwordExpired>false</passwordExpired><sandbox>false</sandbox>\
<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl><sessionId>{session}</sessionId>\
<userId>{user}</userId><userInfo><accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol>\
<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><organizationId>{org}</organizationId>\
<organizationName>campaign-bridge sandbox</organizationName><profileId>00e5g000000Prof</profileId>\
<sessionSecondsValid>{seconds}</sessionSecondsValid><userEmail>admin@example.com</userEmail>\
<userFullName>Sandbox Admin</userFullName><userId>{user}</userId><userName>{username}</userName>\
</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"""

INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


class AuthApi:
    """The login endpoints of one org; ``base_url`` answers the instance URL clients should use next."""

    def __init__(self, state: SalesforceState, base_url: Callable[[], str]) -> None:
        self.state = state
        self.base_url = base_url

    def register(self, router: Router) -> None:
        router.add("POST", r"/services/Soap/u/(?P<version>\d+\.\d+)(?:/.*)?", self.soap_login)
        router.add("POST", r"/services/oauth2/token/?", self.token)

    # ---- SOAP ----------------------------------------------------------------------------------------

    def soap_login(self, request: Request) -> Response:
        creds = self.state.credentials
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            return _fault("INVALID_LOGIN", INVALID_LOGIN)
        found = {_local(e.tag): (e.text or "") for e in root.iter()}
        if "login" not in found:
            return _fault("INVALID_OPERATION", "Unsupported SOAP operation; the sandbox answers login only.")
        username, password = found.get("username", ""), found.get("password", "")
        scoped = found.get("organizationId") in (self.state.org_id, self.state.org_id[:15])
        accepted = username == creds.username and (
            password == creds.password + creds.security_token or (scoped and password == creds.password)
        )
        if not accepted:
            return _fault("INVALID_LOGIN", INVALID_LOGIN)
        body = _LOGIN_OK.format(
            base=self.base_url(),
            version=request.params["version"],
            org=self.state.org_id,
            session=escape(self.state.issue_session()),
            user=self.state.user_id,
            username=escape(creds.username),
            seconds=SESSION_SECONDS,
        )
        return Response(200, body, content_type="text/xml; charset=utf-8")

    # ---- OAuth ---------------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        creds = self.state.credentials
        if grant == "password":
            if form.get("client_id") != creds.client_id:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if form.get("client_secret") != creds.client_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            password = form.get("password", "")
            if form.get("username") != creds.username or password not in (
                creds.password,
                creds.password + creds.security_token,
            ):
                return _oauth_error("invalid_grant", "authentication failure")
            return self._issue()
        if grant == "client_credentials":
            client_id, secret = _basic(request.headers.get("authorization")) or (
                form.get("client_id"),
                form.get("client_secret"),
            )
            if client_id != creds.client_id:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if secret != creds.client_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            return self._issue()
        if grant == JWT_GRANT:
            problem = self._check_assertion(form.get("assertion", ""))
            if problem:
                return _oauth_error("invalid_grant", problem)
            return self._issue()
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _check_assertion(self, assertion: str) -> str | None:
        """Why the JWT bearer assertion is refused, or None when it is good."""
        creds = self.state.credentials
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                creds.jwt_public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            return "expired access/refresh token"
        except jwt.InvalidTokenError:
            return "invalid assertion"
        if claims["iss"] != creds.client_id:
            return "invalid_client_id"  # Salesforce's wording for an unknown consumer key here
        audience = urlsplit(str(claims["aud"]))
        host = audience.hostname or ""
        own = urlsplit(self.base_url()).netloc
        if audience.scheme != "https" or not (host.endswith(".salesforce.com") or audience.netloc == own):
            return "audience is invalid"
        if claims["sub"] != creds.username:
            return "user hasn't approved this consumer"
        return None

    def _issue(self) -> Response:
        issued_at = str(int(time.time() * 1000))
        token = self.state.issue_session()
        base = self.base_url()
        identity = f"https://login.salesforce.com/id/{self.state.org_id}/{self.state.user_id}"
        signature = base64.b64encode(
            hmac.new(
                self.state.credentials.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
            ).digest()
        ).decode()
        return Response(
            200,
            {
                "access_token": token,
                "instance_url": base,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": signature,
                "scope": "api",
            },
        )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fault(code: str, message: str) -> Response:
    return Response(500, _FAULT.format(code=code, message=escape(message)), content_type="text/xml; charset=utf-8")


def _oauth_error(error: str, description: str) -> Response:
    return Response(400, {"error": error, "error_description": description})


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
