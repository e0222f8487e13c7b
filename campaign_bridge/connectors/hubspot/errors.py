"""HubSpot's failures translated into campaign-bridge's error tree, by one table.

The key is the HTTP status and HubSpot's own code: the error envelope's ``category``
(``EXPIRED_AUTHENTICATION``, ``VALIDATION_ERROR``…) or, on a 429, the rate-limit ``policyName``
(``DAILY``, ``TEN_SECONDLY_ROLLING``). Messages are built from status, code and HubSpot's message only:
never from request headers, so a token can never reach a log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)

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


@dataclass(frozen=True, slots=True)
class Failure:
    """What HubSpot answered: enough to choose a translation and to word it."""

    where: str  # "<connection>: <endpoint>"
    status: int
    code: str | None
    message: str
    headers: Mapping[str, str]

    def text(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"{self.where}: HubSpot answered {self.status}{code}: {self.message}"


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
        return Failure(where, status, None, snippet[:200] or "(no body)", headers or {})
    code = data.get("policyName") if status == 429 else data.get("category")
    if not code and data.get("status") not in (None, "error"):  # the OAuth endpoint's {"status": "BAD_…"}
        code = data.get("status")
    message = str(data.get("message") or "(no message)")
    return Failure(where, status, str(code) if code else None, message, headers or {})


def _retry_after(f: Failure) -> float:
    raw = f.headers.get("Retry-After")
    try:
        if raw is not None:
            return max(0.0, float(raw))
    except ValueError:
        pass
    if "secondly" in f.message.lower() and "ten_secondly" not in f.message.lower():
        return SEARCH_WINDOW
    interval = f.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.isdigit():
        return int(interval) / 1000
    return TEN_SECOND_WINDOW


def _rate_limited(f: Failure) -> CampaignBridgeError:
    if "daily" in f.message.lower():  # a daily body without its policyName
        return _daily(f)
    return RateLimitedError(f.text(), retry_after=_retry_after(f))


def _daily(f: Failure) -> CampaignBridgeError:
    return QuotaExhaustedError(f"{f.text()} (the portal's daily API allowance is spent; the next run resumes)")


def _auth(f: Failure) -> CampaignBridgeError:
    return AuthError(f"{f.text()} (check the connection's token, app scopes and portal)")


Translate = Callable[[Failure], CampaignBridgeError]

#: (status, HubSpot code) → our error; ``None`` matches any code of that status.
TABLE: dict[tuple[int, str | None], Translate] = {
    (401, "EXPIRED_AUTHENTICATION"): lambda f: ExpiredTokenError(f.text()),
    (401, None): _auth,
    (403, None): _auth,
    (429, "DAILY"): _daily,
    (429, None): _rate_limited,
    (400, "VALIDATION_ERROR"): lambda f: HubSpotValidationError(f.text(), f.message),
    (404, None): lambda f: FatalError(f"{f.text()} (it may have been deleted in HubSpot)"),
    (408, None): lambda f: TransientError(f.text()),
}


def translate(f: Failure) -> CampaignBridgeError:
    """Our error for one HubSpot failure: the table first, then the status class."""
    for key in ((f.status, f.code), (f.status, None)):
        if key in TABLE:
            return TABLE[key](f)
    if f.status == 0 or f.status >= 500:
        return TransientError(f.text())
    return FatalError(f.text())
