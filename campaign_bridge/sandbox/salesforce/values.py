"""Field values in and out: parse what a client sends into Python values, format them back like Salesforce.

Inside the org, dates are ``datetime.date``, datetimes aware UTC ``datetime`` truncated to milliseconds,
booleans ``bool``, numbers ``int``/``float`` and ids their 18-character form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from .errors import RecordError
from .ids import to_18
from .schema import NUMBER_TYPES, TEXT_TYPES, FieldDef


def utc_now() -> datetime:
    return datetime.now(UTC)


def truncate_ms(moment: datetime) -> datetime:
    """Salesforce keeps datetimes to the millisecond, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("the org clock must return timezone-aware datetimes")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@lru_cache(maxsize=4096)
def format_datetime(moment: datetime) -> str:
    """``2024-05-01T10:00:00.000+0000``: the REST API's datetime format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def format_bulk_datetime(moment: datetime) -> str:
    """``2024-05-01T10:00:00.000Z``: the Bulk API CSV datetime format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_bulk_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_datetime(text: str) -> datetime:
    """Accept ``2024-05-01T10:00:00Z``, ``…+00:00``, ``…+0000`` and fractional seconds; raise ValueError."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or "T" not in text:
        raise ValueError(f"not a datetime with a zone: {text!r}")
    return truncate_ms(moment)


def parse_date(text: str) -> date:
    if len(text) != 10:
        raise ValueError(f"not a date: {text!r}")
    return date.fromisoformat(text)


def coerce(field: FieldDef, raw: Any, *, from_csv: bool = False) -> Any:
    """The internal value of ``raw`` sent for ``field``; raise RecordError when it does not fit the type.

    From CSV an empty cell means "leave unset" and is filtered out by the caller; ``#N/A`` means null.
    """
    if raw is None or (from_csv and raw == "#N/A"):
        return None
    kind = field.type
    try:
        if kind in TEXT_TYPES:
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                raise ValueError
            return str(raw)
        if kind in ("id", "reference"):
            if not isinstance(raw, str):
                raise ValueError
            if raw == "":
                return None
            normal = to_18(raw)
            if normal is None:
                raise RecordError("MALFORMED_ID", f"{field.name}: id value of incorrect type: {raw}", [field.name])
            return normal
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if from_csv and isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
                return raw.lower() in ("true", "1")
            raise ValueError
        if kind == "date":
            if not isinstance(raw, str):
                raise ValueError
            return parse_date(raw[:10] if "T" in raw else raw)
        if kind == "datetime":
            if not isinstance(raw, str):
                raise ValueError
            return parse_datetime(raw)
        if kind in NUMBER_TYPES:
            if isinstance(raw, bool):
                raise ValueError
            number = float(raw) if isinstance(raw, str) else raw
            if not isinstance(number, int | float):
                raise ValueError
            return int(number) if kind == "int" else float(number)
    except ValueError:
        pass
    raise RecordError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{field.name}: value not of required type: {raw}", [field.name]
    )


def looks_like_email(text: str) -> bool:
    """Salesforce's check is lenient; this rejects what it rejects in practice: no ``@``, blanks, no dot."""
    local, at, domain = text.rpartition("@")
    if not at or not local or "@" in local or any(c.isspace() for c in text):
        return False
    return "." in domain and not domain.startswith(".") and not domain.endswith(".")
