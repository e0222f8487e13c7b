"""Settings of a Dynamics 365 (Dataverse) connection, validated once at config load.

::

    d365:
      type: dynamics
      url: https://contoso.crm4.dynamics.com          # the environment URL (Power Platform admin center)
      tenant_id: 00000000-0000-0000-0000-000000000000  # the Entra ID tenant (directory) id
      auth: {method: client_secret, client_id: …, client_secret: "${D365_SECRET}"}
      # or: {method: certificate, client_id: …, private_key_file: /etc/cb/d365.pem, thumbprint: A1B2…}

Both methods are Entra ID client credentials (an app registration with an application user in the
environment); msal signs in. Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and
errors, and validation errors never echo the input.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from campaign_bridge.connectors.base import ConnectionSettings

#: Entra ID's public cloud login host (sovereign clouds have their own).
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: Service protection, per user per web server [D]: 6,000 requests in a 5-minute sliding window, 52 at once.
REQUESTS_PER_WINDOW = 6000
WINDOW_SECONDS = 300.0
CONCURRENT_REQUESTS = 52


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ClientSecretAuth(_Auth):
    """An app registration's client secret (the secret's value, not its id)."""

    method: Literal["client_secret"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class CertificateAuth(_Auth):
    """An app registration's certificate: the private key (PEM file) and the certificate's SHA-1 thumbprint
    as the Entra ID portal shows it; msal signs a client assertion with the key."""

    method: Literal["certificate"]
    client_id: str = Field(min_length=1)
    private_key_file: str = Field(min_length=1)
    thumbprint: str = Field(pattern=r"^[0-9A-Fa-f]{40}$")
    private_key_password: SecretStr | None = None


DynamicsAuth = Annotated[ClientSecretAuth | CertificateAuth, Field(discriminator="method")]


class DynamicsSettings(ConnectionSettings):
    """A Dynamics 365 environment reached through the Dataverse Web API v9.2, signed in by msal."""

    type: Literal["dynamics"] = "dynamics"
    url: str = Field(description="The environment URL, https://<org>.crm<N>.dynamics.com.")
    tenant_id: str = Field(min_length=1, description="The Entra ID tenant (directory) id or domain.")
    authority_host: str = Field(default=DEFAULT_AUTHORITY_HOST, description="Entra ID's login host.")
    auth: DynamicsAuth
    ca_bundle: str | None = Field(default=None, description="CA bundle to trust (a private CA, the sandbox's).")
    verify_tls: bool = Field(default=True, description="Check the server's TLS certificate (keep on in production).")
    requests_per_window: int = Field(default=REQUESTS_PER_WINDOW, gt=0)
    window_seconds: float = Field(default=WINDOW_SECONDS, gt=0)
    concurrent_requests: int = Field(default=CONCURRENT_REQUESTS, gt=0)

    @field_validator("url", "authority_host")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError("must be an https:// URL (Dataverse and Entra ID only speak HTTPS)")
        return v.rstrip("/")
