"""The Entra ID side of the sandbox: OpenID configuration and the v2.0 token endpoint (client credentials).

Checked against api-facts.md §3 and vendor-facts.md (msal 1.39 ``authority.py`` read, and a stub exercised):
msal GETs ``{authority}/v2.0/.well-known/openid-configuration`` (it needs ``token_endpoint``,
``authorization_endpoint`` and ``issuer``), then POSTs the token endpoint a form with ``client_id``,
``grant_type=client_credentials``, ``client_info=1``, ``scope`` and either ``client_secret`` or
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` with ``client_assertion``
(a JWT signed with the certificate's key, audience the token endpoint). Entra ID's refusals, as it words
them [T]: a wrong secret is 401 ``invalid_client`` AADSTS7000215; an unknown app 400 ``unauthorized_client``
AADSTS700016; a bad assertion 401 ``invalid_client`` AADSTS700027; a scope for another resource 400
``invalid_scope`` AADSTS500011; an unknown tenant 400 ``invalid_request`` AADSTS90002.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..http import Request, Response
from .state import OrgState

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599


def make_certificate(folder: Path) -> tuple[Path, bytes, str]:
    """An RSA key and a self-signed certificate for the app registration, kept in ``folder``.

    Returns the private key's path, the certificate's PEM and its SHA-1 thumbprint (hex), as the Entra ID
    portal shows it: what a client file's certificate auth names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = folder / "app-key.pem", folder / "app-cert.pem"
    if not (key_path.exists() and cert_path.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "campaign-bridge sandbox app")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = cert_path.read_bytes()
    cert_obj = x509.load_pem_x509_certificate(pem)
    thumbprint = cert_obj.fingerprint(hashes.SHA1()).hex().upper()
    return key_path, pem, thumbprint


def _aad_error(status: int, error: str, code: int, description: str) -> Response:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace = str(uuid.uuid4())
    return Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {uuid.uuid4()} "
            f"Timestamp: {now}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
    )


class EntraId:
    """The tenant's OpenID configuration and token endpoint for one app registration."""

    def __init__(self, state: OrgState) -> None:
        self.state = state

    def openid_configuration(self, request: Request, base: str) -> Response:
        tenant = request.params["tenant"]
        if tenant != self.state.app.tenant:
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        root = f"{base}/{tenant}"
        return Response(
            200,
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{root}/v2.0",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
            },
        )

    def token(self, request: Request, base: str) -> Response:
        tenant = request.params["tenant"]
        app = self.state.app
        if tenant != app.tenant:
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id = form.get("client_id", "")
        if client_id != app.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
                "happen if the application has not been installed by the administrator of the tenant.",
            )
        refused = self._credential_refused(form, f"{base}/{tenant}/oauth2/v2.0/token")
        if refused is not None:
            return refused
        if form.get("scope") != f"{base}/.default":
            return _aad_error(
                400,
                "invalid_scope",
                500011,
                f"The resource principal named {form.get('scope', '').removesuffix('/.default')} was not found in "
                f"the tenant named {tenant}.",
            )
        token = self.state.issue_token(client_id, TOKEN_LIFETIME)
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token,
            },
        )

    def _credential_refused(self, form: dict[str, str], audience: str) -> Response | None:
        app = self.state.app
        if "client_secret" in form:
            if hmac.compare_digest(form["client_secret"].encode(), app.client_secret.encode()):
                return None
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if form.get("client_assertion_type") == ASSERTION_TYPE and form.get("client_assertion"):
            problem = self._assertion_problem(form["client_assertion"], audience)
            if problem is None:
                return None
            return _aad_error(401, "invalid_client", 700027, problem)
        return _aad_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _assertion_problem(self, assertion: str, audience: str) -> str | None:
        import jwt
        from cryptography import x509

        app = self.state.app
        if not app.certificate_pem:
            return "Client assertion failed signature validation: no certificate is registered for the app."
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = x509.load_pem_x509_certificate(app.certificate_pem).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return "Client assertion failed signature validation: the registered certificate is not RSA."
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key, algorithms=["RS256", "PS256"], audience=audience, options={"require": ["exp", "iss"]}
            )
        except jwt.InvalidTokenError as exc:
            return f"Client assertion failed signature validation ({type(exc).__name__})."
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return "Client assertion contains an invalid issuer or subject."
        return None


def thumbprint_of(pem: bytes) -> str:
    """SHA-1 of the certificate's DER, hex: what Entra ID shows as the thumbprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest().upper()
