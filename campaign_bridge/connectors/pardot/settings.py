"""Settings of an Account Engagement (Pardot) connection, validated once at config load.

::

    pardot:
      type: pardot
      business_unit_id: 0Uv5g000000PARdCAO          # Setup > Account Engagement > Business Unit Setup
      login_url: https://acme.my.salesforce.com     # the org's My Domain (or login/test.salesforce.com)
      auth: {method: client_credentials, client_id: "${SF_CLIENT_ID}", client_secret: "${SF_CLIENT_SECRET}"}
      edition: plus                                 # the daily API allotment: 25k/50k/100k/100k
      removal_campaign: "Unassigned"                # where a removal from a campaign moves a prospect

Auth is Salesforce's: the same four flows as a Salesforce connection (``connectors.salesforce.settings``:
client credentials, JWT bearer, password, session), the token then sent to ``base_url`` with the
``Pardot-Business-Unit-Id`` header. Secrets are ``SecretStr`` and validation errors never echo input.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator, model_validator

from campaign_bridge.connectors.base import ConnectionSettings
from campaign_bridge.connectors.salesforce.settings import DEFAULT_LOGIN_URL, SalesforceAuth, SalesforceSettings

#: The production v5 host; ``https://pi.demo.pardot.com`` for a Pardot sandbox (training/developer) BU.
DEFAULT_BASE_URL = "https://pi.pardot.com"
#: Account Engagement answers at most this many requests of one business unit at once [D].
MAX_CONCURRENT = 5
#: Daily API calls per business unit by edition [D: "Account Engagement API Limits"].
EDITION_DAILY_CALLS = {"growth": 25_000, "plus": 50_000, "advanced": 100_000, "premium": 100_000}


class PardotSettings(ConnectionSettings):
    """One Account Engagement business unit, reached with its Salesforce org's OAuth token."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    type: Literal["pardot"] = "pardot"
    business_unit_id: str = Field(
        pattern=r"^0Uv[A-Za-z0-9]{15}$", description="the 18-character business unit id, beginning 0Uv"
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="https://pi.pardot.com or https://pi.demo.pardot.com")
    login_url: str = Field(default=DEFAULT_LOGIN_URL, description="the org's login, test or My Domain URL")
    instance_url: str | None = Field(default=None, description="the org's My Domain (for the session method)")
    ca_bundle: str | None = Field(default=None, description="PEM file of extra CAs to trust (a private CA)")
    verify_tls: bool = True
    auth: SalesforceAuth
    edition: Literal["growth", "plus", "advanced", "premium"] = Field(
        default="growth", description="the business unit's edition: its daily API allotment (growth is the smallest)"
    )
    max_concurrent: int = Field(
        default=MAX_CONCURRENT, ge=1, le=MAX_CONCURRENT, description="requests in flight at once (at most 5)"
    )
    removal_campaign: str | None = Field(
        default=None,
        description="campaign (name or id) a removal from a campaign moves the prospect to; without it such a "
        "removal is refused (a prospect always has one campaign)",
    )
    new_prospect_campaign: str | None = Field(
        default=None, description="campaign (name or id) of prospects campaign-bridge creates; default: the BU's"
    )
    read_export: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="full reads through the export API: auto (when a read needs more than one 1,000-record "
        "page), always, or never",
    )

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("base_url must be a URL such as https://pi.pardot.com")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _salesforce_login(self) -> PardotSettings:
        self.salesforce()  # the Salesforce connector's own checks of login_url, instance_url and auth
        return self

    def salesforce(self) -> SalesforceSettings:
        """The Salesforce login part of these settings, as the Salesforce connector's auth takes it."""
        return SalesforceSettings(
            type="salesforce",
            login_url=self.login_url,
            instance_url=self.instance_url or (self.login_url if self.auth.method == "session" else None),
            ca_bundle=self.ca_bundle,
            verify_tls=self.verify_tls,
            timeout=self.timeout,
            auth=self.auth,
        )

    @property
    def daily_calls(self) -> int:
        return EDITION_DAILY_CALLS[self.edition]
