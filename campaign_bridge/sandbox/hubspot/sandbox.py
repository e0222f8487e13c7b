"""``HubSpotSandbox``: the emulated portal served over HTTP on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self

from ..http import SandboxServer
from .app import HubSpotApp
from .limits import Limits
from .state import HubSpotState, Token


class HubSpotSandbox:
    """One emulated portal and its server. ``start()``/``stop()`` or use it as a context manager.

    ``clock`` is the portal's wall clock (epoch seconds; ``state.clock`` may be replaced later);
    ``monotonic`` drives the rate-limit windows. Both default to real time.
    """

    def __init__(
        self,
        *,
        ten_second_limit: int | None = None,
        daily_limit: int | None = None,
        search_per_second: int | None = 5,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
        port: int = 0,
    ) -> None:
        self._limits = {"ten_second": ten_second_limit, "daily": daily_limit, "search_per_second": search_per_second}
        self.state = self._new_state(clock, monotonic or time.monotonic)
        self.token = self.state.issue_token("private_app")
        self.oauth = {**self.state.oauth_client, "refresh_token": next(iter(self.state.refresh_tokens))}
        self.server = SandboxServer(HubSpotApp(self.state), port=port)

    def reset(self, *, clock: Callable[[], float] | None = None, monotonic: Callable[[], float] | None = None) -> None:
        """Start over with an empty portal and the constructor's limits on the running server (cheaper than a
        new server). ``token`` and ``oauth`` stay valid; the request log and faults are cleared."""
        state = self._new_state(clock, monotonic or time.monotonic)
        state.oauth_client = dict(self.state.oauth_client)
        state.refresh_tokens = set(self.state.refresh_tokens)
        state.tokens[self.token] = Token("private_app", None)
        self.state = state
        self.server.app = HubSpotApp(state)
        self.server.reset_log()
        self.server.faults.configure()

    def _new_state(self, clock: Callable[[], float] | None, monotonic: Callable[[], float]) -> HubSpotState:
        limits = Limits(
            ten_second=self._limits["ten_second"],
            daily=self._limits["daily"],
            search_per_second=self._limits["search_per_second"],
            monotonic=monotonic,
        )
        return HubSpotState(limits=limits, clock=clock)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
