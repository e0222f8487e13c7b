"""``MarketoSandbox``: the emulated instance served over HTTP on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self

from ..http import SandboxServer
from .app import MarketoApp
from .bulk import DAILY_EXPORT_BYTES
from .limits import Limits
from .state import MarketoState


class MarketoSandbox:
    """One emulated Marketo instance and its server. ``start()``/``stop()`` or use it as a context manager.

    Limits are off unless given (``per_window=100, concurrent=10, daily=50_000`` are Marketo's defaults).
    ``clock`` is the instance's wall clock (epoch seconds); ``monotonic`` drives the rate window.
    """

    def __init__(
        self,
        *,
        per_window: int | None = None,
        concurrent: int | None = None,
        daily: int | None = None,
        export_allowance: int = DAILY_EXPORT_BYTES,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
        port: int = 0,
    ) -> None:
        limits = Limits(
            per_window=per_window, concurrent=concurrent, daily=daily, monotonic=monotonic or time.monotonic
        )
        self.state = MarketoState(limits=limits, clock=clock)
        self.app = MarketoApp(self.state, export_allowance=export_allowance)
        self.server = SandboxServer(self.app, port=port)

    @property
    def url(self) -> str:
        """The REST base URL (Marketo's ``https://{munchkin}.mktorest.com``); identity is on the same host."""
        return self.server.url

    @property
    def client_id(self) -> str:
        return self.state.client["client_id"]

    @property
    def client_secret(self) -> str:
        return self.state.client["client_secret"]

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
