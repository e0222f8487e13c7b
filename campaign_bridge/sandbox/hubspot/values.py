"""Property schema and value formats of the emulated HubSpot portal.

HubSpot stores every property value as a string. Datetime properties are sent back as ISO-8601 UTC with
milliseconds and ``Z`` (``2024-05-01T10:00:00.000Z``); on write they accept epoch milliseconds or an ISO
date/datetime. The emulator keeps datetimes in that one fixed ISO form, so comparing two stored values as
strings compares them in time, and a search never parses the values it scans.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Final

STRING, NUMBER, DATETIME, ENUMERATION, BOOL = "string", "number", "datetime", "enumeration", "bool"

#: Contact properties the portal knows, with their HubSpot type. ``hs_email_bounce`` is HubSpot's
#: "Marketing emails bounced" count (soft and hard bounces together: HubSpot has no soft-bounce-only
#: property); a hard bounce shows as a value in ``hs_email_hard_bounce_reason_enum``. The last page seen
#: is ``hs_analytics_last_url``, at ``hs_analytics_last_timestamp``.
CONTACT_PROPERTIES: Final[dict[str, str]] = {
    "email": STRING,
    "firstname": STRING,
    "lastname": STRING,
    "company": STRING,
    "jobtitle": STRING,
    "phone": STRING,
    "website": STRING,
    "city": STRING,
    "country": STRING,
    "lifecyclestage": ENUMERATION,
    "hs_lead_status": ENUMERATION,
    "hubspot_owner_id": ENUMERATION,
    "hubspotscore": NUMBER,
    "hs_email_open": NUMBER,
    "hs_email_click": NUMBER,
    "hs_email_bounce": NUMBER,
    "hs_email_hard_bounce_reason_enum": ENUMERATION,
    "hs_email_optout": BOOL,
    "hs_email_last_open_date": DATETIME,
    "hs_email_last_click_date": DATETIME,
    "hs_email_last_send_date": DATETIME,
    "hs_analytics_last_url": STRING,
    "hs_analytics_last_timestamp": DATETIME,
    "hs_analytics_last_visit_timestamp": DATETIME,
    "recent_conversion_event_name": STRING,
    "recent_conversion_date": DATETIME,
    "first_conversion_event_name": STRING,
    "first_conversion_date": DATETIME,
    "notes_last_updated": DATETIME,
    "notes_last_contacted": DATETIME,
    "hs_last_sales_activity_timestamp": DATETIME,
    "createdate": DATETIME,
    "lastmodifieddate": DATETIME,
    "hs_object_id": NUMBER,
}

#: Maintained by the portal; an API write to one of them is refused as HubSpot refuses it.
READ_ONLY: Final = frozenset({"hs_object_id", "lastmodifieddate"})

#: What a read returns when the caller names no properties (HubSpot's contact defaults).
DEFAULT_PROPERTIES: Final = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")

#: Always returned next to the requested properties.
ALWAYS_RETURNED: Final = ("createdate", "hs_object_id", "lastmodifieddate")

#: Options of the enumerations HubSpot validates on write (the portal defaults).
OPTIONS: Final[dict[str, frozenset[str]]] = {
    "lifecyclestage": frozenset(
        {
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "evangelist",
            "other",
        }
    ),
    "hs_lead_status": frozenset(
        {"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}
    ),
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EPOCH_MS = re.compile(r"^-?\d+$")


class ManualClock:
    """A clock a test moves by hand: ``clock()`` gives the time, ``advance(seconds)`` moves it on.

    Usable both as the portal's wall clock (epoch seconds) and as the rate limiter's monotonic clock.
    """

    def __init__(self, start: float = 1_714_557_600.0) -> None:  # 2024-05-01T10:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def iso_ms(epoch_ms: int) -> str:
    """``1714557600000`` -> ``"2024-05-01T10:00:00.000Z"``."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_time_ms(value: object) -> int | None:
    """Epoch milliseconds of a filter or property value: epoch-ms digits, an ISO date or datetime, a
    ``datetime``/``date``; ``None`` when it is none of these."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH_MS.match(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def stored_value(kind: str, value: object) -> str:
    """The string HubSpot stores for ``value`` in a property of type ``kind``.

    Raises ValueError when a datetime property gets something that is not a time.
    """
    if kind == DATETIME:
        if value == "":
            return ""
        millis = parse_time_ms(value)
        if millis is None:
            raise ValueError(f"{value!r} is not a valid datetime (epoch milliseconds or ISO-8601)")
        return iso_ms(millis)
    if kind == BOOL and isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid_value(name: str, value: str, schema: Mapping[str, str]) -> tuple[str, str] | None:
    """``(error code, message)`` when HubSpot would refuse ``value`` for property ``name``, else ``None``."""
    kind = schema.get(name)
    if kind is None:
        return "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
    if name in READ_ONLY:
        return "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
    if name == "email" and value and not _EMAIL.match(value):
        return "INVALID_EMAIL", f"Email address {value} is invalid"
    options = OPTIONS.get(name)
    if options is not None and value and value not in options:
        return "INVALID_OPTION", f"{value} was not one of the allowed options: {sorted(options)}"
    if kind == DATETIME and value and parse_time_ms(value) is None:
        return "INVALID_DATE", f"{value} is not a valid datetime (epoch milliseconds or ISO-8601)"
    return None
