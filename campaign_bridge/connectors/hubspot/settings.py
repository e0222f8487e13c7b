"""Settings of a HubSpot connection, validated once at config load.

::

    hs:
      type: hubspot
      auth: {method: private_app, token: "${HUBSPOT_TOKEN}"}
      # or: {method: oauth, client_id: …, client_secret: "${HS_SECRET}", refresh_token: "${HS_REFRESH}"}
      requests_per_10s: 190          # Professional/Enterprise; default 100 (private app) / 110 (OAuth app)

Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and error messages.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from campaign_bridge.connectors.base import ConnectionSettings

#: HubSpot's public API host.
DEFAULT_BASE_URL = "https://api.hubapi.com"
#: A private app's burst limit on Free/Starter portals (usage guidelines: 100 per 10 s; 190 on
#: Professional/Enterprise, 250 with the API limit increase). Set ``requests_per_10s`` for bigger portals.
PRIVATE_APP_REQUESTS_PER_10S = 100
#: A public (OAuth) app's burst limit per installing portal (usage guidelines: 110 per 10 s).
OAUTH_APP_REQUESTS_PER_10S = 110
#: The search endpoints' own limit is 5 requests per second per portal; we stay one below it.
SEARCH_REQUESTS_PER_SECOND = 4


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrivateAppAuth(_Auth):
    """A private app's access token (``pat-…``), sent as ``Authorization: Bearer``."""

    method: Literal["private_app"]
    token: SecretStr


class OAuthAuth(_Auth):
    """A public app installed in the portal: access tokens are minted from the refresh token at
    ``{base_url}/oauth/v1/token`` and renewed when HubSpot says one expired."""

    method: Literal["oauth"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr


HubSpotAuth = Annotated[PrivateAppAuth | OAuthAuth, Field(discriminator="method")]


class HubSpotSettings(ConnectionSettings):
    """A HubSpot portal reached through hubspot-api-client."""

    type: Literal["hubspot"] = "hubspot"
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API host; a sandbox URL in tests.")
    auth: HubSpotAuth
    requests_per_10s: int | None = Field(
        default=None,
        gt=0,
        description="The portal's per-10-second API limit; requests are paced below it. "
        f"Default {PRIVATE_APP_REQUESTS_PER_10S} for a private app, {OAUTH_APP_REQUESTS_PER_10S} for an OAuth app.",
    )
    verify_tls: bool = Field(default=True, description="Check the server's TLS certificate (keep on in production).")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// (or http:// for a local sandbox)")
        return value.rstrip("/")

    @property
    def rate_limit(self) -> int:
        """The per-10-second limit we pace below."""
        if self.requests_per_10s is not None:
            return self.requests_per_10s
        return PRIVATE_APP_REQUESTS_PER_10S if self.auth.method == "private_app" else OAUTH_APP_REQUESTS_PER_10S
