"""Every registered sandbox started together, optionally loaded from a folder and saved back to it.

A folder holds one ``<name>.json`` per sandbox (its ``SandboxSpec.dump`` and the port last used) and
``tls/`` with the CA and certificate the HTTPS sandboxes serve. Started again on that folder, each
sandbox whose file is there comes back with the same records, credentials, CA and (when free) port, so
a client file written against them keeps working; one without a file (a system added since) starts
empty, to be seeded.

``connection_info()`` is everything a client needs to connect: what ``campaign-bridge sandbox serve``
prints, one section per sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from campaign_bridge.sandbox.demo_company import COMPANY, Company
from campaign_bridge.sandbox.registry import discover
from campaign_bridge.sandbox.saved import read_json, write_json
from campaign_bridge.sandbox.spec import RunningSandbox, SandboxFiles, SandboxSpec

T = TypeVar("T")


class Sandboxes:
    """The sandboxes of ``specs`` (default: every registered one) on loopback. ``folder``: load from and
    save to it (None: memory only, files in a temporary folder).

    Construction binds the ports (raises ``ValueError`` for an unreadable state file); ``start()`` serves.
    ``restored`` names the sandboxes whose state came from the folder.
    """

    def __init__(self, folder: Path | None = None, specs: Sequence[SandboxSpec[Any]] | None = None) -> None:
        self.folder = folder
        self.files = SandboxFiles(folder) if folder is not None else SandboxFiles()
        self.specs = {spec.name: spec for spec in (discover() if specs is None else specs)}
        self._running: dict[str, RunningSandbox] = {}
        self._saved_ports: dict[str, int] = {}
        for name, spec in self.specs.items():
            saved = read_json(self._file(name)) if folder is not None and self._file(name).exists() else None
            port = saved.get("port") if saved else None
            self._running[name] = _bind(spec, port if isinstance(port, int) else 0, self.files)
            if saved is not None:
                spec.load(self._running[name], saved)
                self._saved_ports[name] = port if isinstance(port, int) else 0
        self.restored = frozenset(self._saved_ports)

    def __getitem__(self, name: str) -> Any:
        """The running emulator named ``name`` (``KeyError`` when there is none); ``get`` types it."""
        return self._running[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._running)

    def get(self, name: str, kind: type[T]) -> T:
        """The emulator named ``name``, checked to be a ``kind``."""
        sandbox = self._running[name]
        if not isinstance(sandbox, kind):
            raise TypeError(f"the {name} sandbox is a {type(sandbox).__name__}, not a {kind.__name__}")
        return sandbox

    def start(self) -> Self:
        for sandbox in self._running.values():
            sandbox.start()
        return self

    def stop(self) -> None:
        for sandbox in self._running.values():
            sandbox.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def seed_demo(self, now: datetime, company: Company = COMPANY) -> list[str]:
        """Seed every sandbox not restored from the folder with its view of ``company``; their names."""
        fresh = [name for name in self._running if name not in self.restored]
        for name in fresh:
            self.specs[name].seed_demo(self._running[name], company, now)
        return fresh

    def save(self) -> None:
        """Write every sandbox's state (and its port) to the folder. Needs a folder."""
        if self.folder is None:
            raise ValueError("these sandboxes have no folder to save to")
        for name, spec in self.specs.items():
            sandbox = self._running[name]
            write_json(self._file(name), {**spec.dump(sandbox), "port": sandbox.server.port})

    def connection_info(self) -> dict[str, Any]:
        """``{name: section}``: URLs and credentials for every auth method of each sandbox."""
        return {name: spec.connection_info(self._running[name], self.files) for name, spec in self.specs.items()}

    def moved_urls(self) -> list[tuple[str, str]]:
        """``(saved URL, current URL)`` of each restored sandbox, for rewriting a client file that names
        the old one (a saved port may have been taken)."""
        moved = []
        for name, port in self._saved_ports.items():
            server = self._running[name].server
            old = f"{'https' if server.tls else 'http'}://127.0.0.1:{port}"
            moved.append((old, server.url))
        return moved

    def _file(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{name}.json"


def _bind(spec: SandboxSpec[Any], preferred: int, files: SandboxFiles) -> RunningSandbox:
    """The sandbox on ``preferred`` when that port is free, else on any free one."""
    if preferred:
        try:
            return spec.build(preferred, files)  # type: ignore[no-any-return]
        except OSError:
            pass
    return spec.build(0, files)  # type: ignore[no-any-return]
