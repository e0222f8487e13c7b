"""``DynamicsSandbox``: one emulated Dataverse organisation and its Entra ID tenant, served over HTTPS."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Self

from ..http import SandboxServer
from ..spec import SandboxFiles
from .app import DataverseApp
from .auth import make_certificate
from .limits import CONCURRENT, EXECUTION_MS, REQUESTS, WINDOW_SECONDS, ServiceProtection
from .state import OrgState


class DynamicsSandbox:
    """The organisation (``state``) behind ``url`` (both the Web API host and the Entra ID authority host).

    ``limits`` switches the service protection limits on; ``requests``/``window`` scale them (a benchmark's
    shorter window). ``clock`` (wall) stamps ``modifiedon``; ``monotonic`` drives token expiry and limits.
    """

    def __init__(
        self,
        *,
        files: SandboxFiles | None = None,
        port: int = 0,
        limits: bool = False,
        requests: int = REQUESTS,
        window: float = WINDOW_SECONDS,
        execution_ms: int = EXECUTION_MS,
        concurrent: int = CONCURRENT,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files or SandboxFiles()
        self.state = OrgState(monotonic=monotonic)
        if clock is not None:
            self.state.clock = clock
        self.key_file, pem, thumbprint = make_certificate(self.files.folder / "dynamics")
        self.state.app.certificate_pem, self.state.app.thumbprint = pem, thumbprint
        self.limits = ServiceProtection(
            enabled=limits,
            requests=requests,
            window=window,
            execution_ms=execution_ms,
            concurrent=concurrent,
            monotonic=monotonic,
        )
        tls = self.files.tls()
        self.ca_bundle = tls.ca_bundle
        self.server = SandboxServer(DataverseApp(self.state, self.limits, lambda: self.url), tls=tls, port=port)

    @property
    def url(self) -> str:
        """The organisation URL (``https://127.0.0.1:PORT``), also the Entra ID authority host."""
        return self.server.url

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.state.app.tenant}"

    def credentials(self) -> dict[str, str]:
        app = self.state.app
        return {
            "tenant_id": app.tenant,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "private_key_file": str(self.key_file),
            "thumbprint": app.thumbprint,
        }

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
