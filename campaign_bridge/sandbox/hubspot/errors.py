"""HubSpot's error envelope, and the exception the route handlers raise to answer with one.

Every HubSpot error body is ``{"status":"error","message","correlationId","category", "subCategory"?,
"context"?, "errors"?}`` (the spec's ``Error`` schema); rate-limit bodies differ and live in ``limits.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from campaign_bridge.sandbox.http import Response


def correlation_id() -> str:
    return str(uuid.uuid4())


def envelope(
    message: str,
    category: str,
    *,
    sub_category: str | None = None,
    context: Mapping[str, Sequence[str]] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": correlation_id()}
    if sub_category is not None:
        body["subCategory"] = sub_category
    if context is not None:
        body["context"] = {key: list(values) for key, values in context.items()}
    body["category"] = category
    if errors is not None:
        body["errors"] = list(errors)
    return body


class HubSpotError(Exception):
    """Raised inside a handler to answer ``status`` with the error envelope ``body``."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {body.get('message')}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return Response(self.status, self.body, dict(self.headers))


def validation_error(message: str, *, sub_category: str | None = None, **context: Sequence[str]) -> HubSpotError:
    return HubSpotError(400, envelope(message, "VALIDATION_ERROR", sub_category=sub_category, context=context or None))


def not_found(message: str, **context: Sequence[str]) -> HubSpotError:
    return HubSpotError(404, envelope(message, "OBJECT_NOT_FOUND", context=context or None))


def property_errors(problems: Sequence[tuple[str, str, str]]) -> HubSpotError:
    """The 400 HubSpot sends when property values are refused; ``problems`` are ``(name, code, message)``.

    The message embeds the legacy JSON list (``Property values were not valid: [{"isValid":false,...}]``),
    which integrations parse, and ``errors`` carries the same in the structured form.
    """
    legacy = [
        {"isValid": False, "message": msg, "error": code, "name": name, "localizedErrorMessage": msg}
        for name, code, msg in problems
    ]
    structured = [{"message": msg, "code": code, "context": {"propertyName": [name]}} for name, code, msg in problems]
    message = "Property values were not valid: " + json.dumps(legacy, separators=(",", ":"))
    return HubSpotError(400, envelope(message, "VALIDATION_ERROR", errors=structured))


def conflict(existing_id: str) -> HubSpotError:
    return HubSpotError(409, envelope(f"Contact already exists. Existing ID: {existing_id}", "CONFLICT"))


def bad_json(detail: str) -> HubSpotError:
    return HubSpotError(400, envelope(f"Invalid input JSON: {detail}", "VALIDATION_ERROR"))
