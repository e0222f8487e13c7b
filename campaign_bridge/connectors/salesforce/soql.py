"""SOQL text: quoting, literals and SELECT builders. Every value that reaches a query passes through here.

SOQL string literals are single-quoted; inside them Salesforce recognises the escapes ``\\n \\r \\t \\b
\\f \\" \\' \\\\`` (and, in ``LIKE`` patterns only, ``\\%`` and ``\\_``). ``soql_quote`` escapes all of
them, so a value can neither end its literal early nor change what the query means: ``o'brien@x.com``
matches exactly that address.

Datetime literals are unquoted ISO 8601 in UTC to the second (``2026-01-05T09:00:00Z``); Date fields
take ``2026-01-05``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_LIKE_ESCAPES = {"%": "\\%", "_": "\\_"}


def soql_escape(value: str, *, like: bool = False) -> str:
    """``value`` with every SOQL escape applied (and ``%``/``_`` too when it goes into a LIKE pattern)."""
    table = {**_ESCAPES, **_LIKE_ESCAPES} if like else _ESCAPES
    return "".join(table.get(ch, ch) for ch in value)


def soql_quote(value: str) -> str:
    """A SOQL string literal holding exactly ``value``."""
    return "'" + soql_escape(value) + "'"


def soql_like_contains(value: str) -> str:
    """A LIKE pattern literal matching any text that contains ``value`` (wildcards in it are literal)."""
    return "'%" + soql_escape(value, like=True) + "%'"


def soql_in(values: Iterable[str]) -> str:
    """``('a', 'b')``: an IN list of quoted values, de-duplicated in order. Callers never pass an empty one."""
    unique = list(dict.fromkeys(values))
    if not unique:
        raise ValueError("an IN list needs at least one value")
    return "(" + ", ".join(soql_quote(v) for v in unique) + ")"


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def soql_datetime(moment: datetime, *, round_up: bool = False) -> str:
    """A SOQL datetime literal. SOQL has no fractions of a second: ``round_up`` rounds them up (for ``<=``
    bounds), else they are cut (for ``>=`` bounds), so a bound never excludes what it should include."""
    moment = as_utc(moment)
    if round_up and moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_date(day: date) -> str:
    return day.strftime("%Y-%m-%d")


def first_day_at_or_after(moment: datetime) -> date:
    """The first calendar day (UTC) whose midnight is at or after ``moment``: the ``>=`` bound that makes a
    Date field agree with a datetime window."""
    moment = as_utc(moment)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.date() if moment == midnight else midnight.date() + timedelta(days=1)


def parse_sf_datetime(text: str | None) -> datetime | None:
    """A Salesforce datetime (``2024-05-01T10:00:00.000+0000``) or date, as an aware UTC datetime."""
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return as_utc(parsed)


def select(fields: Sequence[str], sobject: str, where: str | None = None, order_by: str | None = None) -> str:
    """``SELECT f1, f2 FROM Obj [WHERE …] [ORDER BY …]``."""
    text = f"SELECT {', '.join(fields)} FROM {sobject}"
    if where:
        text += f" WHERE {where}"
    if order_by:
        text += f" ORDER BY {order_by}"
    return text


def chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    """``values`` in consecutive slices of at most ``size``."""
    for i in range(math.ceil(len(values) / size)):
        yield values[i * size : (i + 1) * size]
