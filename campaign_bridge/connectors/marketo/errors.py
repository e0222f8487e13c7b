"""Marketo's failures translated into campaign-bridge's error tree: the kit's table with Marketo's rows.

Marketo answers almost every failure with HTTP 200, ``success: false`` and a code (AdobeDocs
``help/rest-api/error-codes.md``), so a ``Failure`` carries status 200 and the code, and the rows below are
keyed ``(200, code)``. The identity endpoint answers bad credentials with a real 401; a payload over 1 MB
is 413 and a URI over 8 KB is 414. Record-level reasons (1004, 1005, 1007, 1015, 1037…) are not errors:
the connector reports them as outcomes of the records they name.

=========================  ==========================================================================
code                       becomes
=========================  ==========================================================================
601, 602                   ``TokenExpiredError``: the call loop renews the token once and repeats
600, 603                   ``AuthError`` (no token; the API user's role lacks a permission)
604, 608, 611, 713         ``TransientError`` (timeout, unavailable, system error)
606                        ``RateLimitedError`` for the rest of the 20-second window
615                        ``RateLimitedError`` for a moment (10 calls were in flight)
607                        ``QuotaExhaustedError``: the daily quota is spent; the next run resumes
1029 (export quota)        ``QuotaExhaustedError``; other 1029 (too many jobs queued) transient
1014, 1016, 1019, 1022     transient (object not created, too many imports, import in progress, in use)
609, 610, 1003, 1013 …     ``FatalError`` with Marketo's words
=========================  ==========================================================================
"""

from __future__ import annotations

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, ErrorTable, Failure
from campaign_bridge.errors import (
    AuthError,
    CampaignBridgeError,
    FatalError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)

#: Marketo counts calls over 20 seconds; a 606 waits out at most one window.
WINDOW_SECONDS = 20.0
#: A 615 (ten calls in flight) clears as soon as one of them is answered.
CONCURRENCY_WAIT = 1.0
#: Marketo's envelope status: failures come back as HTTP 200.
ENVELOPE = 200


class TokenExpiredError(AuthError):
    """Marketo refused the access token as invalid (601) or expired (602); renewed once by the call loop."""


def _quota(f: Failure) -> CampaignBridgeError:
    return QuotaExhaustedError(
        f"{f.text} (the instance's daily API quota is spent; it resets at midnight US Central and the next run resumes)"
    )


def _export(f: Failure) -> CampaignBridgeError:
    if "quota" in f.message.lower():
        return QuotaExhaustedError(f"{f.text} (the daily bulk export allowance is spent; the next run resumes)")
    return TransientError(f.text)


def _auth(f: Failure) -> CampaignBridgeError:
    return AuthError(f"{f.text} (check the API user's role: it needs Read-Write Lead and Read-Write Assets)")


def _bad_credentials(f: Failure) -> CampaignBridgeError:
    return AuthError(f"{f.text} (check client_id and client_secret of the LaunchPoint service)")


#: The default table, with Marketo's rows.
TABLE: ErrorTable = DEFAULT_TABLE.extend(
    {
        (ENVELOPE, "601"): lambda f: TokenExpiredError(f.text),
        (ENVELOPE, "602"): lambda f: TokenExpiredError(f.text),
        (ENVELOPE, "600"): _auth,
        (ENVELOPE, "603"): _auth,
        (ENVELOPE, "604"): lambda f: TransientError(f.text),
        (ENVELOPE, "608"): lambda f: TransientError(f.text),
        (ENVELOPE, "611"): lambda f: TransientError(f.text),
        (ENVELOPE, "713"): lambda f: TransientError(f.text),
        (ENVELOPE, "606"): lambda f: RateLimitedError(f.text, retry_after=WINDOW_SECONDS),
        (ENVELOPE, "615"): lambda f: RateLimitedError(f.text, retry_after=CONCURRENCY_WAIT),
        (ENVELOPE, "607"): _quota,
        (ENVELOPE, "1029"): _export,
        # marketorestpython retries these too: an import or object busy for a moment
        (ENVELOPE, "1014"): lambda f: TransientError(f.text),
        (ENVELOPE, "1016"): lambda f: RateLimitedError(f.text, retry_after=WINDOW_SECONDS),
        (ENVELOPE, "1019"): lambda f: TransientError(f.text),
        (ENVELOPE, "1022"): lambda f: TransientError(f.text),
        (ENVELOPE, "610"): lambda f: FatalError(f"{f.text} (no such resource: check the base_url)"),
        (ENVELOPE, "1013"): lambda f: FatalError(f"{f.text} (it may have been deleted in Marketo)"),
        (ENVELOPE, None): lambda f: FatalError(f.text),
        (401, None): _bad_credentials,
        (413, None): lambda f: FatalError(f"{f.text} (the request body is over Marketo's 1 MB)"),
        (414, None): lambda f: FatalError(f"{f.text} (the URI is over Marketo's 8 KB)"),
    }
)


def failure(where: str, status: int, code: str | None, message: str) -> Failure:
    """A ``Failure`` worded as every Marketo error is: where, status, code, Marketo's own message."""
    label = f" {code}" if code else ""
    return Failure(status, code, message, f"{where}: Marketo answered {status}{label}: {message}")
