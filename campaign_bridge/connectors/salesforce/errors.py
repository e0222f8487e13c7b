"""The Salesforce error table: (HTTP status, errorCode) → the project's error tree.

Salesforce answers errors with a JSON array ``[{"message", "errorCode", "fields"}]``; simple-salesforce
raises one exception class per status and keeps the parsed body in ``.content``. ``translate`` reads it
into a ``kit.errors.Failure`` and asks ``TABLE``: the kit's default rows extended with Salesforce's own
(``(status, errorCode)`` first, then ``(status, None)``, then the status class). Messages are built from
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
429                                    ``RateLimitedError`` (Salesforce sends no Retry-After:
                                       backoff, then retry)
5xx, unreadable body, timeout, reset   ``TransientError``
=====================================  ==========================================================
"""

from __future__ import annotations

import json
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, ErrorTable, Failure, fatal, requests_failure
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


def _quota(f: Failure) -> CampaignBridgeError:
    if "ConcurrentPerOrgLongTxn" in f.text:
        return RateLimitedError(f"{f.text} (too many concurrent long-running requests in the org; retrying)")
    return QuotaExhaustedError(
        f"{f.text} The org's daily API limit is spent; stopping now, the next run resumes where this one stopped"
    )


def _query_problem(f: Failure) -> CampaignBridgeError:
    return FatalError(f"{f.text} The query names a field or object this org does not have, or is malformed.")


#: The default table, with Salesforce's own rows: where its codes mean something the status alone does not.
TABLE: ErrorTable = DEFAULT_TABLE.extend(
    {
        (401, "INVALID_SESSION_ID"): lambda f: SessionExpiredError(f.text),
        (403, "REQUEST_LIMIT_EXCEEDED"): _quota,
        # A 403 with any other code is a missing permission: a person must grant it, the login is fine.
        (403, None): fatal,
        (400, "MALFORMED_QUERY"): _query_problem,
        (400, "INVALID_FIELD"): _query_problem,
        (400, "INVALID_TYPE"): _query_problem,
    }
)


def translate_status(status: int, content: Any, *, connection: str, endpoint: str) -> CampaignBridgeError:
    """The project error for one Salesforce error response."""
    code, vendor_message = error_detail(content)
    label = f"{status} {code}" if code else str(status)
    message = f"{connection}: Salesforce {endpoint} answered {label}: {(vendor_message or 'no details').rstrip('.')}."
    return TABLE.translate(Failure(status, code, vendor_message, message))


def translate(exc: BaseException, *, connection: str, endpoint: str) -> CampaignBridgeError:
    """The project error for a simple-salesforce or requests exception (chain it with ``from exc``)."""
    if isinstance(exc, CampaignBridgeError):
        return exc
    if isinstance(exc, SalesforceError):
        return translate_status(exc.status, exc.content, connection=connection, endpoint=endpoint)
    transport = requests_failure(exc, connection=connection, vendor="Salesforce", endpoint=endpoint)
    if transport is not None:
        return transport
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
