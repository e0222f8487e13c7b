"""What every Marketo answer shares: the envelope, error codes, parameters and paging tokens.

Envelope (AdobeDocs ``help/rest-api/error-codes.md``, swagger-mapi ``ResponseOf…`` models): HTTP 200 with
``{"requestId", "success", "result"?, "errors"?, "warnings", "nextPageToken"?, "moreResult"?}``; a failed
call is ``success: false`` with ``errors: [{"code": "601", "message": …}]``, codes as quoted strings. Only
the payload's size (413) and the URI's length (414) are HTTP errors, plus 401 from the identity endpoint.

Parameters of a read may come in the query or, for a ``POST`` with ``_method=GET`` (the documented cure for
a URI over 8 KB, which marketorestpython always uses for leads by filter and by list), in a form body.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from campaign_bridge.sandbox.http import Request, Response

#: Longest URI Marketo reads (error 414 past it) and largest body (413).
MAX_URI = 8 * 1024
MAX_BODY = 1024 * 1024
#: The most records a read returns per page and a write takes per call (``batchSize`` default and max).
MAX_BATCH = 300
#: The most values ``filterValues`` may hold.
MAX_FILTER_VALUES = 300
#: Asset API pages (``maxReturn``): default 20, max 200.
ASSET_DEFAULT_PAGE, ASSET_MAX_PAGE = 20, 200


class MarketoError(Exception):
    """A call-level failure: answered HTTP 200, ``success: false`` with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def request_id() -> str:
    return f"{secrets.token_hex(2)}#{secrets.token_hex(6)}"


def ok(result: list[Any] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"requestId": request_id(), "success": True}
    if result is not None:
        body["result"] = result
    body.update(extra)
    return Response(200, body)


def failed(code: str, message: str) -> Response:
    return Response(200, {"requestId": request_id(), "success": False, "errors": [{"code": code, "message": message}]})


def skipped(code: str, message: str, **record: Any) -> dict[str, Any]:
    """One per-record result that was not applied."""
    return {**record, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def params(request: Request) -> dict[str, str]:
    """The call's parameters: the query, and a form body's fields (``_method=GET`` reads); a repeated
    parameter (``fields=a&fields=b``) reads as the comma-separated list Marketo takes."""
    out = {k: ",".join(v) for k, v in request.query.items()}
    content_type = request.headers.get("content-type", "")
    if request.body and "x-www-form-urlencoded" in content_type:
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        out.update({k: ",".join(v) for k, v in form.items()})
    return out


def json_body(request: Request) -> dict[str, Any]:
    """The JSON body; ``609`` when it is not a JSON object."""
    try:
        data = json.loads(request.body.decode("utf-8")) if request.body else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise MarketoError("609", f"Invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MarketoError("609", "Invalid JSON: expected an object")
    return data


def is_read(request: Request) -> bool:
    """A GET, or a POST that says ``_method=GET``."""
    return request.method == "GET" or params(request).get("_method", "").upper() == "GET"


def batch_size(values: dict[str, str], default: int = MAX_BATCH) -> int:
    raw = values.get("batchSize")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) <= MAX_BATCH:
        raise MarketoError("1003", f"Invalid value for batchSize: {raw} (1 to {MAX_BATCH})")
    return int(raw)


def asset_page(values: dict[str, str]) -> tuple[int, int]:
    """``(offset, maxReturn)`` of an asset API browse."""
    raw_max, raw_offset = values.get("maxReturn") or str(ASSET_DEFAULT_PAGE), values.get("offset") or "0"
    if not raw_max.isdigit() or not 0 < int(raw_max) <= ASSET_MAX_PAGE:
        raise MarketoError("701", f"maxReturn must be between 1 and {ASSET_MAX_PAGE}")
    if not raw_offset.isdigit():
        raise MarketoError("701", "offset must be a whole number")
    return int(raw_offset), int(raw_max)


def int_ids(raw: str, what: str) -> list[int]:
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not all(v.isdigit() for v in values):
        raise MarketoError("1003", f"Invalid {what}: {raw}")
    return [int(v) for v in values]


def page_token(scope: str, position: int) -> str:
    """An opaque ``nextPageToken`` for ``position`` within one read (``scope`` names the read)."""
    return base64.b32encode(f"{scope}|{position}".encode()).decode().rstrip("=")


def token_position(token: str | None, scope: str) -> int:
    """Where a ``nextPageToken`` resumes; ``1003`` for a token of another read or none of ours."""
    if not token:
        return 0
    try:
        text = base64.b32decode(token + "=" * (-len(token) % 8)).decode()
        got_scope, _, position = text.rpartition("|")
    except (ValueError, UnicodeDecodeError):
        raise MarketoError("1003", "Invalid nextPageToken") from None
    if got_scope != scope or not position.isdigit():
        raise MarketoError("1003", "Invalid nextPageToken")
    return int(position)
