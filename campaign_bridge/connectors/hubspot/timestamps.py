"""HubSpot's two ways of writing a moment: ISO-8601 in answers, epoch milliseconds in search filters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def epoch_ms(value: Any) -> str:
    """A datetime filter value: epoch milliseconds, as HubSpot's search expects."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


def parse_time(raw: Any) -> datetime | None:
    """A HubSpot ISO-8601 stamp (``2024-05-01T10:00:00.000Z``) or epoch milliseconds; ``None`` if neither."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
