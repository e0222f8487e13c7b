"""HubSpot's failures translated into campaign-bridge's error tree: the kit's table with HubSpot's rows.

The key is the HTTP status and HubSpot's own code: the error envelope's ``category``
(``EXPIRED_AUTHENTICATION``, ``VALIDATION_ERROR``…) or, on a 429, the rate-limit ``policyName``
(``DAILY``, ``TEN_SECONDLY_ROLLING``). Messages are built from status, code and HubSpot's message only:
never from request headers, so a token can never reach a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, SNIPPET_CHARS, ErrorTable, Failure, retry_after
from campaign_bridge.errors import AuthError, CampaignBridgeError, FatalError, QuotaExhaustedError, RateLimitedError

#: HubSpot's rolling window, the wait when a 10-second 429 carries no Retry-After.
TEN_SECOND_WINDOW = 10.0
#: The wait after a search-endpoint 429 (its limit is per second).
SEARCH_WINDOW = 1.0


class ExpiredTokenError(AuthError):
    """HubSpot said the access token expired (401 ``EXPIRED_AUTHENTICATION``).

    The client renews an OAuth token once and retries; anything else surfaces as the ``AuthError`` it is.
    """


class HubSpotValidationError(FatalError):
    """A 400 ``VALIDATION_ERROR``: HubSpot refused what we sent. ``hubspot_message`` is its own words,
    kept apart so a batch write can report them per record."""

    def __init__(self, message: str, hubspot_message: str) -> None:
        super().__init__(message)
        self.hubspot_message = hubspot_message


def parse_failure(where: str, status: int, body: str | bytes | None, headers: Mapping[str, str] | None) -> Failure:
    """Read HubSpot's error envelope (or a rate-limit body); a body that is not JSON is kept short."""
    data: Any = None
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        snippet = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body or "").strip()
        return _failure(where, status, None, snippet[:SNIPPET_CHARS] or "(no body)", headers)
    code = data.get("policyName") if status == 429 else data.get("category")
    if not code and data.get("status") not in (None, "error"):  # the OAuth endpoint's {"status": "BAD_…"}
        code = data.get("status")
    message = str(data.get("message") or "(no message)")
    return _failure(where, status, str(code) if code else None, message, headers)


def _failure(where: str, status: int, code: str | None, message: str, headers: Mapping[str, str] | None) -> Failure:
    label = f" {code}" if code else ""
    return Failure(status, code, message, f"{where}: HubSpot answered {status}{label}: {message}", headers or {})


def _retry_after(f: Failure) -> float:
    asked = retry_after(f.headers)
    if asked is not None:
        return asked
    if "secondly" in f.message.lower() and "ten_secondly" not in f.message.lower():
        return SEARCH_WINDOW
    interval = f.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.isdigit():
        return int(interval) / 1000
    return TEN_SECOND_WINDOW


def _rate_limited(f: Failure) -> CampaignBridgeError:
    if "daily" in f.message.lower():  # a daily body without its policyName
        return _daily(f)
    return RateLimitedError(f.text, retry_after=_retry_after(f))


def _daily(f: Failure) -> CampaignBridgeError:
    return QuotaExhaustedError(f"{f.text} (the portal's daily API allowance is spent; the next run resumes)")


def _auth(f: Failure) -> CampaignBridgeError:
    return AuthError(f"{f.text} (check the connection's token, app scopes and portal)")


#: The default table, with HubSpot's own rows: its codes and the hints a person needs to act on them.
TABLE: ErrorTable = DEFAULT_TABLE.extend(
    {
        (401, "EXPIRED_AUTHENTICATION"): lambda f: ExpiredTokenError(f.text),
        (401, None): _auth,
        (403, None): _auth,
        (429, "DAILY"): _daily,
        (429, None): _rate_limited,
        (400, "VALIDATION_ERROR"): lambda f: HubSpotValidationError(f.text, f.message),
        (404, None): lambda f: FatalError(f"{f.text} (it may have been deleted in HubSpot)"),
    }
)


def translate(f: Failure) -> CampaignBridgeError:
    """Our error for one HubSpot failure: the table first, then the status class."""
    return TABLE.translate(f)
