"""The two ways the emulator says no, shaped like Salesforce.

``ApiError`` fails a whole request: it becomes an HTTP error whose body is the array
``[{"message", "errorCode", "fields"}]``. ``RecordError`` fails one record of a DML call: single-record
REST turns it into a 400 array, Collections into a ``{"statusCode", "message", "fields"}`` entry of a
SaveResult, Bulk ingest into an ``sf__Error`` cell.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """``with_fields`` off drops the ``fields`` key, as Salesforce's 401 and 403 limit bodies do."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None, *, with_fields: bool = True
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.with_fields = with_fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.with_fields:
            entry["fields"] = self.fields
        return [entry]


class RecordError(Exception):
    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields or []

    def save_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def as_api_error(self, status: int = 400) -> ApiError:
        return ApiError(status, self.code, self.message, self.fields)

    def bulk_text(self) -> str:
        """The ``sf__Error`` cell of a Bulk API 2.0 failed-results row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid", with_fields=False)
