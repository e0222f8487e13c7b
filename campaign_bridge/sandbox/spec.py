"""What a sandbox declares about itself, once, in its own package: ``SandboxSpec``.

Every emulator package under ``campaign_bridge/sandbox/`` exposes one ``SANDBOX = SandboxSpec(...)``.
``registry.discover()`` finds it; ``sandbox serve``, saved state (``--state DIR``) and ``campaign-bridge
demo`` then start, seed, save and describe the sandbox through it, so a new system edits nothing outside
its own package.

Why a frozen dataclass of functions rather than a base class to subclass: the emulators already are
classes with their own constructors and lifecycles (``SalesforceSandbox``, ``HubSpotSandbox``), and what
the shared code needs from them is five verbs, not an identity. A spec is a value a reader sees whole
in one place, mypy checks each function against the sandbox type it names (``SandboxSpec[S]``), and a
test can write one for a throw-away emulator in a dozen lines.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.demo_company import Company
from campaign_bridge.sandbox.http import SandboxServer, TlsFiles, make_tls

#: The folder of a state folder (``--state DIR``) where the test CA and certificate live; every HTTPS
#: sandbox serves the same one, so a client trusts one CA for all of them.
TLS_FOLDER = "tls"


class RunningSandbox(Protocol):
    """What the shared code needs of an emulator object: its server, and to start and stop."""

    @property
    def server(self) -> SandboxServer: ...

    def start(self) -> Self: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=RunningSandbox)


@dataclass(frozen=True, slots=True)
class SandboxFiles:
    """Where sandboxes keep files that must outlive a restart: the state folder, or a temporary folder
    when nothing is saved. Name a file after your sandbox (``salesforce`` keeps its JWT key in ``tls/``)."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="campaign-bridge-sandbox-")))

    def tls(self) -> TlsFiles:
        """The CA and loopback certificate kept in ``folder/tls``, generated there the first time."""
        folder = self.folder / TLS_FOLDER
        files = TlsFiles(folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
        if all(p.exists() for p in (files.ca_bundle, files.cert_chain, files.private_key)):
            return files
        folder.mkdir(parents=True, exist_ok=True)
        return make_tls(folder)


@dataclass(frozen=True, slots=True)
class SandboxSpec(Generic[S]):
    """One emulated system, as ``serve``, saved state and the demo see it.

    ``name``: the system's key in ``sandbox serve``'s JSON line and the stem of its saved file
    (``<name>.json``); the connection ``type:`` it emulates. ``role``: CRM sandboxes are listed first.

    ``build(port, files)``: the emulator, bound to ``port`` (0: any free one) but not serving yet; raise
    ``OSError`` when the port is taken (another is then tried). ``files`` is where it keeps what must
    survive a restart (``files.tls()`` for HTTPS).

    ``connection_info(sandbox, files)``: what ``sandbox serve`` prints for it: URLs, the CA where HTTPS,
    and one block per auth method shaped like a client file's ``auth:`` (secrets included: a sandbox).

    ``seed_demo(sandbox, company, now)``: the system's own view of the demo company (see
    ``demo_company``), into an empty sandbox.

    ``dump(sandbox)`` / ``load(sandbox, data)``: the state a vendor keeps (records, credentials) as
    JSON-ready data with ``"format": saved.FORMAT``, and back into a new, empty sandbox; ``load`` raises
    ``ValueError`` for data it cannot take.

    ``demo``: how ``campaign-bridge demo --crm/--ma <name>`` writes its client file for this system
    (``DemoPart``); None: the system is started and seeded with the others but cannot be picked.
    """

    name: str
    role: Role
    build: Callable[[int, SandboxFiles], S]
    connection_info: Callable[[S, SandboxFiles], dict[str, Any]]
    seed_demo: Callable[[S, Company, datetime], None]
    dump: Callable[[S], dict[str, Any]]
    load: Callable[[S, dict[str, Any]], None]
    demo: DemoPart | None = None


def _as_written(endpoint: dict[str, Any]) -> dict[str, Any]:
    return endpoint


@dataclass(frozen=True, slots=True)
class DemoPart:
    """What ``campaign-bridge demo`` needs to run its rules on a system (``SandboxSpec.demo``).

    The demo's rules (``campaign_bridge/demo.py``) are written once, in the words of a typical CRM and MA
    system: the CRM side names ``{"campaign": …, "status": …}`` (a target) or ``{"campaign": …,
    "member_status": [...]}`` (a source), the MA side ``{"list": …}`` or a ``{"segment": …}`` in the
    canonical segment language; the demo company (``demo_company``) holds containers of those names.

    ``alias``: the connection's name in ``demo.yaml`` (``sf``, ``hs``…): short, it is typed by hand.

    ``connection(info)``: from this sandbox's ``connection_info`` section, the connection's settings for
    the client file (everything but ``type:``, as a mapping), with each secret written as a
    ``"${NAME}"`` reference, and ``{NAME: value}`` for those references (``demo.env``). Name variables
    ``CB_DEMO_<SYSTEM>_<WHAT>``.

    ``endpoint(written)``: one of the rule's endpoints as the demo writes it (without ``connection``), in
    this system's own terms: a system whose campaign members live elsewhere (Dynamics 365: a marketing
    list linked to the campaign) or whose status comes from a table rewrites it here. Default: as written.

    ``cannot``: demo rules (by name) this system cannot run, each with the reason; the demo leaves them out
    of the client file and says why.
    """

    alias: str
    connection: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, str]]]
    endpoint: Callable[[dict[str, Any]], dict[str, Any]] = _as_written
    cannot: Mapping[str, str] = field(default_factory=dict)
