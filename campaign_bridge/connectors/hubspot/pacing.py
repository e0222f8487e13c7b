"""HubSpot's rate-limit headers, read into the kit's pacer.

HubSpot counts requests in rolling windows (per app every 10 s; search 5 per second) and answers 429
past them; the client paces each with a ``kit.pacing.SlidingWindowPacer``. Its answers also carry
``X-HubSpot-RateLimit-Remaining``, which counts every integration on the portal, not only ours.
"""

from __future__ import annotations

from collections.abc import Mapping

from campaign_bridge.connectors.kit.pacing import (
    REMAINING_RESERVE,
    Monotonic,
    Sleep,
    SlidingWindowPacer,
    header_int,
    observe_remaining,
)

__all__ = ["REMAINING_RESERVE", "Monotonic", "Sleep", "SlidingWindowPacer", "observe_rate_headers"]


def observe_rate_headers(pacer: SlidingWindowPacer, headers: Mapping[str, str]) -> None:
    """Pause when HubSpot's ``X-HubSpot-RateLimit-Remaining`` says its window is (nearly) spent."""
    interval_ms = header_int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    observe_remaining(
        pacer,
        header_int(headers, "X-HubSpot-RateLimit-Remaining"),
        interval_ms / 1000 if interval_ms else None,
    )
