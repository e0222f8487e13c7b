"""Which sandboxes exist: every subpackage of ``campaign_bridge.sandbox`` that exposes ``SANDBOX``.

Discovery (``pkgutil`` over the package's own folder) rather than a central list, because five systems
are being added in parallel: with a list, each would edit the same lines, and a sandbox that forgot its
line would silently be missing from ``sandbox serve``. Here adding the package is the registration.
Connectors register the same way (``connectors/registry.py``: a package's ``CONNECTOR``), but are looked
up by the ``type:`` a client file names, so start-up imports only the vendor clients it uses; the
sandboxes are only imported by the commands that start them all (``sandbox serve``, ``demo``).

A subpackage without ``SANDBOX`` (shared helpers) is skipped; one whose ``SANDBOX`` is not a
``SandboxSpec``, a reserved or repeated name, or an import error is a bug and raised as such.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from campaign_bridge.mapping.semantics import Role
from campaign_bridge.sandbox.spec import SandboxSpec

#: The attribute a sandbox package exposes its spec as.
SPEC_ATTRIBUTE = "SANDBOX"
#: Keys ``sandbox serve`` prints beside the sandboxes' sections; no sandbox may take them.
RESERVED_NAMES = frozenset({"state", "pid"})
#: CRMs first, then MA systems (so the JSON line and the demo list Salesforce before HubSpot, as ever).
_ROLE_ORDER = {Role.CRM: 0, Role.MA: 1}


def discover() -> list[SandboxSpec[Any]]:
    """Every registered sandbox, CRMs first, then by name. Raises ``TypeError``/``ValueError`` for a
    package that declares its spec wrongly, and whatever its import raises."""
    package = importlib.import_module("campaign_bridge.sandbox")
    found: dict[str, SandboxSpec[Any]] = {}
    seen: set[str] = set()
    for module in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
        if not module.ispkg or module.name in seen:
            continue
        seen.add(module.name)
        spec = getattr(importlib.import_module(module.name), SPEC_ATTRIBUTE, None)
        if spec is None:
            continue
        if not isinstance(spec, SandboxSpec):
            raise TypeError(f"{module.name}.{SPEC_ATTRIBUTE} is a {type(spec).__name__}, not a SandboxSpec")
        if spec.name in RESERVED_NAMES:
            raise ValueError(f"{module.name}: the sandbox name {spec.name!r} is reserved")
        if spec.name in found:
            raise ValueError(f"two sandboxes are named {spec.name!r}")
        found[spec.name] = spec
    return sorted(found.values(), key=lambda s: (_ROLE_ORDER[s.role], s.name))
