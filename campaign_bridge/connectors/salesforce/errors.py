"""The Salesforce error table: (HTTP status, errorCode) → the project's error tree.

Salesforce answers errors with a JSON array ``[{"message", "errorCode", "fields"}]``; simple-salesforce
raises one exception class per status and keeps the parsed body in ``.content``. ``translate`` looks up
``(status, errorCode)`` first, then ``(status, None)``, then the status class, and builds a message from
the status, code and vendor message only: never the URL's session, never a header, never a secret.

=====================================  ==========================================================
(status, errorCode)                    becomes
=====================================  ==========================================================
401 INVALID_SESSION_ID                 ``SessionExpiredError`` (an AuthError; the client logs in
                                       again once and retries, else it surfaces)
403 REQUEST_LIMIT_EXCEEDED             ``QuotaExhaustedError``: the org's daily API limit is spent
403 REQUEST_LIMIT_EXCEEDED, message    ``RateLimitedError``: too many concurrent long requests,
    "ConcurrentPerOrgLongTxn …"        wait and retry
403 other                              ``FatalError`` (permissions: a person must grant access)
400 MALFORMED_QUERY / INVALID_FIELD    ``FatalError`` naming the query problem
400 / 404 / 405 / 300 other            ``FatalError``
429                                    ``RateLimitedError`` (backoff, then retry)
5xx, unreadable body, timeout, reset   ``TransientError``
=====================================  ==========================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)


class SessionExpiredError(AuthError):
    """Salesforce refused the session (401 INVALID_SESSION_ID); a fresh login may cure it."""


def error_detail(content: Any) -> tuple[str | None, str]:
    """``(errorCode, message)`` of a Salesforce error body: an array of errors, a dict, or text."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode") or first.get("statusCode"), str(first.get("message") or "")
    if isinstance(content, dict):
        code = content.get("errorCode") or content.get("error")
        return code, str(content.get("message") or content.get("error_description") or "")
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    text = str(content or "").strip()
    # An HTML error page says nothing useful past its first line; keep messages short.
    return None, text[:200]


Factory = Callable[[str], CampaignBridgeError]


def _quota(message: str) -> CampaignBridgeError:
    if "ConcurrentPerOrgLongTxn" in message:
        return RateLimitedError(f"{message} (too many concurrent long-running requests in the org; retrying)")
    return QuotaExhaustedError(
        f"{message} The org's daily API limit is spent; stopping now, the next run resumes where this one stopped"
    )


def _query_problem(message: str) -> CampaignBridgeError:
    return FatalError(f"{message} The query names a field or object this org does not have, or is malformed.")


#: (status, errorCode or None for "any code") → error factory, given the assembled message.
TABLE: dict[tuple[int, str | None], Factory] = {
    (401, "INVALID_SESSION_ID"): SessionExpiredError,
    (401, None): AuthError,
    (403, "REQUEST_LIMIT_EXCEEDED"): _quota,
    (403, None): FatalError,
    (400, "MALFORMED_QUERY"): _query_problem,
    (400, "INVALID_FIELD"): _query_problem,
    (400, "INVALID_TYPE"): _query_problem,
    (400, None): FatalError,
    (404, None): FatalError,
    (405, None): FatalError,
    (300, None): FatalError,
}


def _by_class(status: int, message: str) -> CampaignBridgeError:
    if status == 429:
        return RateLimitedError(message)
    if status >= 500 or status in (408, 502, 503, 504):
        return TransientError(message)
    return FatalError(message)


def translate_status(status: int, content: Any, *, connection: str, endpoint: str) -> CampaignBridgeError:
    """The project error for one Salesforce error response."""
    code, vendor_message = error_detail(content)
    label = f"{status} {code}" if code else str(status)
    message = f"{connection}: Salesforce {endpoint} answered {label}: {(vendor_message or 'no details').rstrip('.')}."
    factory = TABLE.get((status, code)) or TABLE.get((status, None))
    return factory(message) if factory else _by_class(status, message)


def translate(exc: BaseException, *, connection: str, endpoint: str) -> CampaignBridgeError:
    """The project error for a simple-salesforce or requests exception (chain it with ``from exc``)."""
    if isinstance(exc, CampaignBridgeError):
        return exc
    if isinstance(exc, SalesforceError):
        return translate_status(exc.status, exc.content, connection=connection, endpoint=endpoint)
    if isinstance(exc, requests.Timeout):
        return TransientError(f"{connection}: Salesforce {endpoint} timed out")
    if isinstance(exc, requests.exceptions.SSLError):
        return FatalError(
            f"{connection}: TLS verification failed for Salesforce ({type(exc).__name__}); "
            "set ca_bundle to the CA that signed the server's certificate"
        )
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"{connection}: connection to Salesforce failed during {endpoint}")
    if isinstance(exc, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
        return TransientError(f"{connection}: Salesforce {endpoint} answered a body that is not JSON")
    if isinstance(exc, SalesforceOperationError):
        return FatalError(f"{connection}: a Salesforce Bulk API job failed: {exc}")
    return TransientError(f"{connection}: Salesforce {endpoint} failed: {type(exc).__name__}")


#: What ``translate`` understands; anything else is a bug and propagates as it is.
VENDOR_ERRORS: tuple[type[BaseException], ...] = (
    SalesforceError,
    SalesforceOperationError,
    requests.RequestException,
    json.JSONDecodeError,
)
