"""The error table every connector extends: (HTTP status, vendor code) → the tree of ``campaign_bridge.errors``.

A connector reads a failed answer into a ``Failure`` (status, the vendor's code and its own words, the
assembled message, the headers) and asks its table, which looks up ``(status, code)``, then
``(status, None)``, then falls back on the status class. Every row has the one ``Factory`` signature:
``Failure -> CampaignBridgeError``. A vendor's table is ``DEFAULT_TABLE.extend({...})`` with only the rows
where the vendor differs from the defaults:

=====================  ==================================================================
(status, code)         becomes (by default)
=====================  ==================================================================
401 / 403              ``AuthError`` (credentials refused, or not allowed to do this)
429                    ``RateLimitedError`` waiting the ``Retry-After`` header when sent
408                    ``TransientError``
400 / 404 / 405 / 409  ``FatalError``
other 4xx, 3xx         ``FatalError``
5xx, 0 (no answer)     ``TransientError``
=====================  ==================================================================

``requests_failure`` translates the exceptions of ``requests`` (timeouts, resets, TLS, bodies that are not
JSON) for connectors whose client library is built on it. Messages are assembled from connection, endpoint,
status, code and the vendor's message only: never a URL's query, a header or a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import requests

from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    RateLimitedError,
    TransientError,
    redact_credentials,
)

#: Status of a ``Failure`` when no answer came at all (the request could not be sent or was cut off).
NO_ANSWER = 0
#: Longest vendor text kept when an error body is not the vendor's structured envelope (an HTML page).
SNIPPET_CHARS = 200


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed answer, enough to choose a row of the table and to word the error.

    ``message`` is the vendor's own words; ``text`` the whole message an error carries (the connector
    assembles it in its own format: connection, endpoint, status, code, vendor message).
    """

    status: int
    code: str | None
    message: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


#: The one signature of a row: the failure in, the project's error out (raised ``from`` the vendor's).
Factory = Callable[[Failure], CampaignBridgeError]
#: A row's key: HTTP status and the vendor's error code, or ``None`` for "any code of this status".
Key = tuple[int, str | None]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the ``Retry-After`` header asks for (never negative), or None when absent or unreadable.

    Only the delta-seconds form is read: the vendors we speak to send no HTTP dates.
    """
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def fatal(f: Failure) -> CampaignBridgeError:
    return FatalError(f.text)


def auth(f: Failure) -> CampaignBridgeError:
    return AuthError(f.text)


def transient(f: Failure) -> CampaignBridgeError:
    return TransientError(f.text)


def rate_limited(f: Failure) -> CampaignBridgeError:
    return RateLimitedError(f.text, retry_after=retry_after(f.headers))


def by_status_class(f: Failure) -> CampaignBridgeError:
    """What a status no row names means: no answer or 5xx is worth a retry, anything else needs a person."""
    if f.status == NO_ANSWER or f.status >= 500:
        return TransientError(f.text)
    return FatalError(f.text)


class ErrorTable:
    """Rows keyed by ``(status, vendor code)``, read most specific first; immutable once built."""

    def __init__(self, rows: Mapping[Key, Factory]) -> None:
        self._rows: Mapping[Key, Factory] = MappingProxyType(dict(rows))

    @property
    def rows(self) -> Mapping[Key, Factory]:
        """The table's rows (read-only)."""
        return self._rows

    def extend(self, rows: Mapping[Key, Factory]) -> ErrorTable:
        """A new table: these rows added to this table's, replacing any with the same key."""
        return ErrorTable({**self._rows, **rows})

    def factory(self, status: int, code: str | None) -> Factory:
        """The row for ``(status, code)``, else for ``(status, None)``, else the status class."""
        return self._rows.get((status, code)) or self._rows.get((status, None)) or by_status_class

    def translate(self, failure: Failure) -> CampaignBridgeError:
        """The project's error for ``failure``; the caller raises it ``from`` the vendor's exception."""
        text = redact_credentials(failure.text)
        if text != failure.text:
            failure = replace(failure, message=redact_credentials(failure.message), text=text)
        return self.factory(failure.status, failure.code)(failure)


#: The rows every vendor starts from.
DEFAULT_TABLE = ErrorTable(
    {
        (400, None): fatal,
        (401, None): auth,
        (403, None): auth,
        (404, None): fatal,
        (405, None): fatal,
        (408, None): transient,
        (409, None): fatal,
        (429, None): rate_limited,
    }
)


def requests_failure(exc: BaseException, *, connection: str, vendor: str, endpoint: str) -> CampaignBridgeError | None:
    """The project's error for an exception of ``requests`` (or a body that is not JSON), None for others.

    A timeout, a reset or an unreadable body is transient; a certificate the connection does not trust is
    fatal, with the setting that cures it.
    """
    if isinstance(exc, requests.Timeout):
        return TransientError(f"{connection}: {vendor} {endpoint} timed out")
    if isinstance(exc, requests.exceptions.SSLError):
        return FatalError(
            f"{connection}: TLS verification failed for {vendor} ({type(exc).__name__}); "
            "set ca_bundle to the CA that signed the server's certificate"
        )
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"{connection}: connection to {vendor} failed during {endpoint}")
    if isinstance(exc, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
        return TransientError(f"{connection}: {vendor} {endpoint} answered a body that is not JSON")
    return None
