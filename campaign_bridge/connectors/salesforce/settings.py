"""Settings of a Salesforce connection: where the org is, how to log in, and how hard to push it.

Every secret is a ``SecretStr`` (it prints as ``**********`` in reprs, logs and validation errors), and
validation errors never echo the input (``hide_input_in_errors``), so a typo next to a password does not
print the password. The ``auth`` block is a union discriminated by ``method``:

``client_credentials``  OAuth client credentials of a connected app (needs the org's My Domain login URL)
``jwt_bearer``          OAuth JWT bearer: a connected app's consumer key, a user name and an RS256 key
``password``            user name, password and security token: the OAuth password grant when a connected
                        app's ``client_id``/``client_secret`` are given, else the SOAP ``login`` call
``session``             an existing session id (access token); it cannot be renewed when it expires
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from campaign_bridge.connectors.base import ConnectionSettings

#: The production login host; ``https://test.salesforce.com`` for sandboxes, or the org's My Domain.
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
#: REST API version; simple-salesforce's own default, and the oldest the project is checked against.
DEFAULT_API_VERSION = "59.0"
#: "auto": use Bulk API 2.0 whenever it costs fewer API calls than REST reads or Collections writes
#: (``connectors.salesforce.costs``: above 800 changes of one kind, or from 6001 members read).
DEFAULT_BULK_THRESHOLD: Literal["auto"] = "auto"

#: Login hosts shared by every org; the client-credentials flow refuses them and needs the org's own host.
SHARED_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class ClientCredentialsAuth(_Auth):
    """OAuth 2.0 client credentials: the connected app runs as its configured integration user."""

    method: Literal["client_credentials"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class JwtBearerAuth(_Auth):
    """OAuth 2.0 JWT bearer: an RS256 assertion signed with the connected app's certificate key.

    Give the key inline (``private_key``, PEM) or as a file (``private_key_file``), not both.
    ``audience`` defaults to ``https://test.salesforce.com`` for sandbox orgs and
    ``https://login.salesforce.com`` for every other one (My Domain logins included).
    """

    method: Literal["jwt_bearer"]
    client_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    private_key_file: str | None = None
    private_key: SecretStr | None = None
    audience: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> JwtBearerAuth:
        if (self.private_key_file is None) == (self.private_key is None):
            raise ValueError("give exactly one of private_key_file or private_key")
        return self


class PasswordAuth(_Auth):
    """User name + password + security token; OAuth password grant when a connected app is given."""

    method: Literal["password"]
    username: str = Field(min_length=1)
    password: SecretStr
    security_token: SecretStr = SecretStr("")
    client_id: str | None = None
    client_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _app_pair(self) -> PasswordAuth:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("give both client_id and client_secret (OAuth password grant) or neither (SOAP login)")
        return self


class SessionAuth(_Auth):
    """An existing session id or access token. Salesforce offers no way to renew it."""

    method: Literal["session"]
    session_id: SecretStr


SalesforceAuth = Annotated[
    ClientCredentialsAuth | JwtBearerAuth | PasswordAuth | SessionAuth, Field(discriminator="method")
]


def _origin(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{what} must be a URL such as https://acme.my.salesforce.com")
    return f"{parts.scheme}://{parts.netloc}"


class SalesforceSettings(ConnectionSettings):
    """One Salesforce org. ``instance_url`` may be left out for credential flows (login tells it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    type: Literal["salesforce"] = "salesforce"
    instance_url: str | None = Field(default=None, description="e.g. https://acme.my.salesforce.com")
    login_url: str = Field(default=DEFAULT_LOGIN_URL, description="login, test or the org's My Domain URL")
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{2,3}\.0$")
    ca_bundle: str | None = Field(default=None, description="PEM file of extra CAs to trust (a private CA)")
    verify_tls: bool = True
    bulk_threshold: Annotated[int, Field(gt=0)] | Literal["auto"] = Field(
        default=DEFAULT_BULK_THRESHOLD,
        description=(
            '"auto" (the default): use Bulk API 2.0 whenever it costs fewer API calls than REST. A positive '
            "number pins the switch: above this many changes or members, use Bulk API 2.0 (a higher number "
            "keeps mid-sized work on REST, whose answers come at once, at the cost of more calls)."
        ),
    )
    auth: SalesforceAuth

    @field_validator("bulk_threshold", mode="before")
    @classmethod
    def _bulk_threshold(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        raise ValueError('bulk_threshold must be "auto" or a whole number of changes above 0, such as 10000')

    @field_validator("instance_url")
    @classmethod
    def _instance_origin(cls, value: str | None) -> str | None:
        return None if value is None else _origin(value, "instance_url")

    @field_validator("login_url")
    @classmethod
    def _login_origin(cls, value: str) -> str:
        return _origin(value, "login_url")

    @model_validator(mode="after")
    def _auth_fits(self) -> SalesforceSettings:
        if isinstance(self.auth, SessionAuth) and self.instance_url is None:
            raise ValueError("auth method 'session' needs instance_url (the org the session belongs to)")
        if isinstance(self.auth, ClientCredentialsAuth) and self.token_host_is_shared and self.instance_url is None:
            raise ValueError(
                "auth method 'client_credentials' needs the org's own host: set login_url (or instance_url) "
                "to its My Domain, e.g. https://acme.my.salesforce.com"
            )
        return self

    @property
    def token_host_is_shared(self) -> bool:
        return (urlsplit(self.login_url).hostname or "") in SHARED_LOGIN_HOSTS

    @property
    def token_base_url(self) -> str:
        """Where the OAuth token endpoint lives: login_url, except that client credentials need My Domain."""
        if isinstance(self.auth, ClientCredentialsAuth) and self.token_host_is_shared and self.instance_url:
            return self.instance_url
        return self.login_url
