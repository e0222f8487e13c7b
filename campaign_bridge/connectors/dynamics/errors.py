"""Dataverse's and Entra ID's failures translated into campaign-bridge's error tree: the kit's table with
Dataverse's rows.

Dataverse answers ``{"error": {"code": "0x8…", "message": …}}`` (api-facts.md §3); a refused or expired token
is a 401 with an empty body; the service protection limits are 429 with ``Retry-After`` and one of three codes.
Messages are built from connection, endpoint, status, code and Dataverse's message only, never a header, a
query or a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, SNIPPET_CHARS, ErrorTable, Failure, rate_limited
from campaign_bridge.errors import AuthError, CampaignBridgeError, FatalError

#: Service protection codes [D]: number of requests, execution time, concurrent requests.
RATE_CODES = ("0x80072322", "0x80072321", "0x80072326")
#: "Record does not exist" [T].
NOT_FOUND = "0x80040217"


class TokenExpiredError(AuthError):
    """Dataverse refused the access token (401): the call loop gets a new one from msal once."""


def parse_failure(where: str, status: int, body: bytes | str | None, headers: Mapping[str, str]) -> Failure:
    """Read Dataverse's error envelope; a body that is not one is kept short."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    data: Any = None
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or "") or None
        message = str(err.get("message") or "(no message)")
    else:
        code, message = None, text.strip()[:SNIPPET_CHARS] or "(no body)"
    label = f" {code}" if code else ""
    return Failure(status, code, message, f"{where}: Dataverse answered {status}{label}: {message}", dict(headers))


def _forbidden(f: Failure) -> CampaignBridgeError:
    return AuthError(
        f"{f.text} (the app's application user needs a security role that can read and write contacts, leads, "
        "marketing lists, campaigns and campaign responses)"
    )


#: The default table with Dataverse's rows.
TABLE: ErrorTable = DEFAULT_TABLE.extend(
    {
        (401, None): lambda f: TokenExpiredError(f.text),
        (403, None): _forbidden,
        **{(429, code): rate_limited for code in RATE_CODES},
        (404, NOT_FOUND): lambda f: FatalError(f"{f.text} (it may have been deleted in Dynamics)"),
    }
)


def translate(f: Failure) -> CampaignBridgeError:
    return TABLE.translate(f)
