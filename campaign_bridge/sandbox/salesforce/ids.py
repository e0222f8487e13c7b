"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-insensitive checksum.

Ids are minted from a per-prefix counter written in base 62 (``0-9A-Za-z``, ASCII order), so sorting ids
sorts records by creation order, which is what an unordered SOQL query returns here.
"""

from __future__ import annotations

import itertools
import threading

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
POD = "5g"  # the two "instance" characters real ids carry after the key prefix


def checksum(id15: str) -> str:
    """The 3 characters Salesforce appends to a 15-character id to make it case-insensitively unique."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if char in _UPPER:
                bits |= 1 << position
        out.append(_SUFFIX[bits])
    return "".join(out)


def to_18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id; None when ``value`` is not shaped like an id."""
    if len(value) == 18 and value.isalnum():
        return value[:15] + checksum(value[:15])
    if len(value) == 15 and value.isalnum():
        return value + checksum(value)
    return None


class IdFactory:
    """Mints unique 18-character ids per key prefix; thread-safe."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            n = next(counter)
        return _mint(prefix, n)

    def many(self, prefix: str, count: int) -> list[str]:
        """``count`` consecutive ids in one go (the bulk seeding path)."""
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            first = next(counter)
            # advance the shared counter past the block we hand out
            self._counters[prefix] = itertools.count(first + count)
        return _mint_range(prefix, first, first + count)


def _bits(chars: str) -> int:
    return sum(1 << position for position, char in enumerate(chars) if char in _UPPER)


# The last two base-62 digits of every id, with their upper-case bit masks: the bulk path mints 3,844
# consecutive ids per table pass instead of encoding each counter from scratch.
_PAIRS = [(a + b, _bits(a + b)) for a in _DIGITS for b in _DIGITS]


def _encode(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, d = divmod(n, 62)
        digits.append(_DIGITS[d])
    return "".join(reversed(digits))


def _mint(prefix: str, n: int) -> str:
    id15 = prefix + POD + _encode(n, 10)
    return id15 + checksum(id15)


def _mint_range(prefix: str, start: int, stop: int) -> list[str]:
    out: list[str] = []
    first_char = _SUFFIX[_bits(prefix + POD)]
    n = start
    while n < stop:
        head = _encode(n // 3844, 8)  # the counter's first 8 digits; the pair table supplies the last 2
        second_char = _SUFFIX[_bits(head[:5])]
        head_bits = _bits(head[5:])
        base = prefix + POD + head
        low = n % 3844
        block = min(3844 - low, stop - n)
        for pair, pair_bits in _PAIRS[low : low + block]:
            out.append(base + pair + first_char + second_char + _SUFFIX[head_bits | (pair_bits << 3)])
        n += block
    return out
