"""Account Engagement's failures translated into campaign-bridge's error tree: the kit's table with v5's rows.

v5 answers ``{"code": <int>, "message": "…"}`` with a coarse HTTP status; the meaning is in the code, so
rows are keyed by (status, code) and, where the status is not confirmed, by the code under each status
it may come with. Messages are built from connection, endpoint, status, code and Pardot's words only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, SNIPPET_CHARS, ErrorTable, Factory, Failure
from campaign_bridge.errors import AuthError, CampaignBridgeError, FatalError, QuotaExhaustedError, RateLimitedError

#: v5 codes campaign-bridge acts on [D].
MISSING_HEADER, BAD_TOKEN, UNKNOWN_BUSINESS_UNIT = "181", "184", "201"
CONCURRENT_LIMIT, DAILY_LIMIT = "66", "122"
ALREADY_A_MEMBER, NOT_FOUND = "58", "192"
PAGE_TOKEN_EXPIRED, PAGE_TOKEN_INVALID = "210", "211"
#: v5 sends no Retry-After on the concurrency code; one second lets a request in flight finish.
CONCURRENT_WAIT = 1.0


class TokenRefusedError(AuthError):
    """Code 184: the Salesforce access token is invalid or expired; the call loop renews it once."""


class PardotRequestError(FatalError):
    """Pardot refused what we sent (a 400 with a code); ``code`` and ``pardot_message`` are kept apart so a
    write can report them per record."""

    def __init__(self, message: str, code: str | None, pardot_message: str) -> None:
        super().__init__(message)
        self.code, self.pardot_message = code, pardot_message


class PardotNotFoundError(FatalError):
    """A 404 with code 192: the object does not exist (deleted meanwhile, or a wrong id)."""


def parse_failure(where: str, status: int, body: bytes, headers: Mapping[str, str]) -> Failure:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and "code" in data:
        code, message = str(data["code"]), str(data.get("message") or "(no message)")
    else:
        code, message = None, body.decode("utf-8", "replace").strip()[:SNIPPET_CHARS] or "(no body)"
    label = f" code {code}" if code else ""
    return Failure(status, code, message, f"{where}: Account Engagement answered {status}{label}: {message}", headers)


def _request(f: Failure) -> CampaignBridgeError:
    return PardotRequestError(f.text, f.code, f.message)


def _daily(f: Failure) -> CampaignBridgeError:
    return QuotaExhaustedError(
        f"{f.text} (the business unit's daily API allotment is spent; the next run resumes after midnight)"
    )


def _concurrent(f: Failure) -> CampaignBridgeError:
    return RateLimitedError(f.text, retry_after=CONCURRENT_WAIT)


def _unit(f: Failure) -> CampaignBridgeError:
    return FatalError(f"{f.text} (check business_unit_id, and base_url: pi.pardot.com or pi.demo.pardot.com)")


def _header(f: Failure) -> CampaignBridgeError:
    return FatalError(f"{f.text} (the Pardot-Business-Unit-Id header is required with a Salesforce token)")


def _token(f: Failure) -> CampaignBridgeError:
    return TokenRefusedError(f"{f.text} (check the connected app's pardot_api scope and the integration user)")


def _rows() -> dict[tuple[int, str | None], Factory]:
    rows: dict[tuple[int, str | None], Factory] = {}
    for status in (400, 401, 403, 429):  # the status of these codes is not confirmed: key them under each
        rows[(status, DAILY_LIMIT)] = _daily
        rows[(status, CONCURRENT_LIMIT)] = _concurrent
        rows[(status, UNKNOWN_BUSINESS_UNIT)] = _unit
        rows[(status, MISSING_HEADER)] = _header
        rows[(status, BAD_TOKEN)] = _token
    rows[(400, None)] = _request
    rows[(404, NOT_FOUND)] = lambda f: PardotNotFoundError(f.text)
    return rows


TABLE: ErrorTable = DEFAULT_TABLE.extend(_rows())
