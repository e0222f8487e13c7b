"""HubSpot's rate limits: a rolling ten-second window per token, a daily count, and the search endpoints'
own per-second limit, each answered with the 429 body HubSpot sends for it.

Sources: the daily body is HubSpot's documented example [D]; the ten-second body is a real observed one
(it carries ``groupName``) [T] to which ``requestId`` is added as in the documented body [U]; the search
body is a recorded real response (``category: RATE_LIMITS``, no ``errorType``) [T]. Search requests are
exempt from the ten-second limit (the spec marks them ``ten-secondly`` exempt) [T] but count for the day.
HubSpot sends ``Retry-After`` (seconds) on 429s [T: PostHog, quoting HubSpot's usage guidelines]; the
emulator sends the seconds until the window frees, except on DAILY (it would be hours, and urllib3's
default Retry sleeps that long on a GET). Windows run on an injected monotonic clock so tests never sleep; the day rolls over
at midnight UTC of the portal's wall clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from campaign_bridge.sandbox.http import Response
from campaign_bridge.sandbox.hubspot.errors import correlation_id

INTERVAL_MS = 10_000
SEARCH_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """``refusal`` is the 429 to send, or ``None``; ``headers`` go on the answer either way."""

    refusal: Response | None
    headers: dict[str, str]


class Limits:
    """Counts calls per token and per portal; ``None`` turns a limit off."""

    def __init__(
        self,
        *,
        ten_second: int | None = None,
        daily: int | None = None,
        search_per_second: int | None = 5,
        monotonic: Callable[[], float] | None = None,
        portal_id: int = 62515,
        app_id: int = 1_000_001,
    ) -> None:
        self.ten_second = ten_second
        self.daily = daily
        self.search_per_second = search_per_second
        self.monotonic: Callable[[], float] = monotonic or time.monotonic
        self.portal_id, self.app_id = portal_id, app_id
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: deque[float] = deque()
        self._day = ""
        self._daily_used = 0

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._search.clear()
            self._daily_used = 0

    def check(self, token: str, *, oauth: bool, search: bool, wall_seconds: float) -> Verdict:
        """Count one call by ``token`` now, or refuse it. Refused calls are not counted."""
        with self._lock:
            now = self.monotonic()
            headers: dict[str, str] = {}
            day = time.strftime("%Y-%m-%d", time.gmtime(wall_seconds))
            if day != self._day:
                self._day, self._daily_used = day, 0
            if self.daily is not None and self._daily_used >= self.daily:
                # No Retry-After: urllib3's default Retry would sleep until midnight on a GET [U].
                body = _body("You have reached your daily limit.", "DAILY", request_id=True)
                return Verdict(Response(429, body, self._daily_headers(oauth)), {})
            window = self._windows.setdefault(token, deque())
            while window and window[0] <= now - INTERVAL_MS / 1000:
                window.popleft()
            if search and self.search_per_second is not None:
                while self._search and self._search[0] <= now - SEARCH_INTERVAL_S:
                    self._search.popleft()
                if len(self._search) >= self.search_per_second:
                    body = {
                        "status": "error",
                        "message": "You have reached your secondly limit.",
                        "correlationId": correlation_id(),
                        "category": "RATE_LIMITS",
                    }
                    wait = self._search[0] + SEARCH_INTERVAL_S - now
                    return Verdict(_refuse(body, wait, {}), {})
                self._search.append(now)
            elif self.ten_second is not None:
                if len(window) >= self.ten_second:
                    body = _body("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING")
                    kind = "oauth" if oauth else "private_app"
                    body["groupName"] = f"publicapi:{kind}-api-calls-ten-secondly:{self.app_id}:{self.portal_id}"
                    body["requestId"] = correlation_id()
                    wait = window[0] + INTERVAL_MS / 1000 - now
                    refusal_headers = {**self._window_headers(0), **self._daily_headers(oauth)}
                    return Verdict(_refuse(body, wait, refusal_headers), {})
                window.append(now)
                headers.update(self._window_headers(self.ten_second - len(window)))
            self._daily_used += 1
            headers.update(self._daily_headers(oauth))
            return Verdict(None, headers)

    def _window_headers(self, remaining: int) -> dict[str, str]:
        if self.ten_second is None:
            return {}
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MS),
            "X-HubSpot-RateLimit-Max": str(self.ten_second),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
        }

    def _daily_headers(self, oauth: bool) -> dict[str, str]:
        if self.daily is None or oauth:  # HubSpot sends no daily headers to OAuth apps
            return {}
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._daily_used)),
        }


def _body(message: str, policy: str, *, request_id: bool = False) -> dict[str, str]:
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    }
    if request_id:
        body["requestId"] = correlation_id()
    return body


def _refuse(body: dict[str, str], wait_seconds: float, headers: dict[str, str]) -> Response:
    retry_after = max(1, math.ceil(wait_seconds))
    return Response(429, body, {**headers, "Retry-After": str(retry_after)})
