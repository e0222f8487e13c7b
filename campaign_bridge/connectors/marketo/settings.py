"""Settings of a Marketo connection, validated once at config load.

::

    mk:
      type: marketo
      base_url: https://123-ABC-456.mktorest.com      # Admin > Web Services > REST API "Endpoint" (no /rest)
      auth: {method: client_credentials, client_id: "${MKTO_CLIENT_ID}", client_secret: "${MKTO_CLIENT_SECRET}"}
      # identity_url: https://123-ABC-456.mktorest.com/identity   (Admin > Web Services > "Identity"; default)
      # calls_per_20s: 100, concurrent_calls: 10                   (Marketo's limits; lower to share them)

Marketo offers server-side integrations one auth method: a custom service's client credentials, exchanged
at the identity endpoint for an hour-long access token sent as ``Authorization: Bearer``. Secrets are
``SecretStr``: they print as ``**********`` in reprs, logs and error messages.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from campaign_bridge.connectors.base import ConnectionSettings

#: Marketo's documented limits: 100 calls per 20 seconds and 10 concurrent calls per instance.
CALLS_PER_20S = 100
CONCURRENT_CALLS = 10
#: Marketo's default daily quota of API calls per instance (subscriptions may buy more).
DAILY_QUOTA = 50_000


class ClientCredentials(BaseModel):
    """A LaunchPoint custom service's client id and secret (Admin > LaunchPoint > View Details)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["client_credentials"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


MarketoAuth = Annotated[ClientCredentials, Field(discriminator="method")]


class MarketoSettings(ConnectionSettings):
    """A Marketo Engage instance reached over its REST API (requests on the connector kit)."""

    type: Literal["marketo"] = "marketo"
    base_url: str = Field(description="The REST endpoint's host, https://<munchkin>.mktorest.com (without /rest).")
    identity_url: str | None = Field(default=None, description="The identity endpoint; default <base_url>/identity.")
    auth: MarketoAuth
    calls_per_20s: int = Field(
        default=CALLS_PER_20S, gt=0, le=CALLS_PER_20S, description="Calls per 20 s this connection may use."
    )
    concurrent_calls: int = Field(
        default=CONCURRENT_CALLS, gt=0, le=CONCURRENT_CALLS, description="Calls in flight at once."
    )
    bulk_read: bool = Field(
        default=True,
        description="Read a static list of more than one page (300 leads) with a bulk lead extract, four calls "
        "whatever its size (it spends the daily export allowance); smart lists are always read that way.",
    )
    daily_quota: int = Field(
        default=DAILY_QUOTA,
        gt=0,
        description="The instance's daily API quota (Marketo does not report it; 50,000 unless Adobe raised it).",
    )
    ca_bundle: str | None = Field(default=None, description="CA bundle to trust for this connection's TLS.")
    verify_tls: bool = Field(default=True, description="Check the server's TLS certificate (keep on in production).")

    @field_validator("base_url", "identity_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local sandbox)")
        value = value.rstrip("/")
        return value[: -len("/rest")] if value.endswith("/rest") else value

    @property
    def identity(self) -> str:
        return self.identity_url or f"{self.base_url}/identity"
