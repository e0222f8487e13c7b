"""Which connector class serves a connection's ``type:``: each connector package declares its own.

``campaign_bridge/connectors/<type>/__init__.py`` exposes ``CONNECTOR = <its Connector subclass>``, and a
client file's ``type: <type>`` finds it by that name. Adding the package is the registration, as for
sandboxes (``sandbox/registry.py``): with a central list, systems added in parallel edit the same lines,
and a connector that forgot its line is an "unknown type" however complete it is.

Lookup imports only the package a client file names, so a file that only uses HubSpot never imports
simple-salesforce and start-up stays fast. Listing every type (``connector_types``: the "known:" of an
unknown-type error, the client-file schema) imports every connector package, which only those need.

``CONNECTOR_TYPES`` keeps the types that are not named after their package: the memory pair shares
``connectors/memory``. A declaration that is wrong (not a ``Connector``, another ``system``, no row in
``mapping/semantics.py``) is a bug and raised as ``TypeError``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from campaign_bridge.connectors.base import ConnectionSettings, Connector
from campaign_bridge.mapping.semantics import SEMANTICS

#: The package whose subpackages are connectors (and helpers such as ``kit``, which declare nothing).
PACKAGE = "campaign_bridge.connectors"
#: The attribute a connector package exposes its class as.
CONNECTOR_ATTRIBUTE = "CONNECTOR"

#: Types served by a package of another name, as ``module:attribute``.
CONNECTOR_TYPES: dict[str, str] = {
    "memory-crm": "campaign_bridge.connectors.memory:MemoryCRM",
    "memory-ma": "campaign_bridge.connectors.memory:MemoryMA",
}


def connector_class(type_: object) -> type[Connector]:
    """The connector class for ``type_``, importing only its package.

    Raises ``KeyError`` when no connector has that type, ``ImportError`` when its package (or the vendor
    library it needs) cannot be imported, ``TypeError`` when its package declares it wrongly.
    """
    if not isinstance(type_, str):
        raise KeyError(type_)
    if type_ in CONNECTOR_TYPES:
        module_name, _, attr = CONNECTOR_TYPES[type_].partition(":")
        found = getattr(importlib.import_module(module_name), attr)
    else:
        found = getattr(importlib.import_module(_package_of(type_)), CONNECTOR_ATTRIBUTE, None)
        if found is None:  # a helper package (kit), not a connector
            raise KeyError(type_)
    return _checked(type_, found)


def _package_of(type_: str) -> str:
    """The subpackage named ``type_``; ``KeyError`` when there is none (a name with a dot, a module…)."""
    if not type_.isidentifier() or type_.startswith("_"):
        raise KeyError(type_)
    spec = importlib.util.find_spec(f"{PACKAGE}.{type_}")
    if spec is None or spec.submodule_search_locations is None:
        raise KeyError(type_)
    return spec.name


def _checked(type_: str, found: object) -> type[Connector]:
    where = CONNECTOR_TYPES.get(type_) or f"{PACKAGE}.{type_}.{CONNECTOR_ATTRIBUTE}"
    if not (isinstance(found, type) and issubclass(found, Connector)):
        raise TypeError(f"{where} is {found!r}, not a Connector subclass")
    if found.system != type_:
        raise TypeError(f"{where}: {found.__name__}.system is {found.system!r}, but it is registered as {type_!r}")
    if type_ not in SEMANTICS:
        raise TypeError(f"{where}: {type_!r} has no row in mapping/semantics.py (write the system's semantics first)")
    return found


def connector_types() -> list[str]:
    """Every type a client file may name: those of ``CONNECTOR_TYPES``, then each connector package's, by
    name. Imports every connector package; one whose vendor library is missing is listed all the same
    (naming it, the loader then says it cannot be loaded)."""
    types = list(CONNECTOR_TYPES)
    package = importlib.import_module(PACKAGE)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not module.ispkg or module.name in types:
            continue
        try:
            connector_class(module.name)
        except KeyError:
            continue
        except ImportError:
            pass
        types.append(module.name)
    return types


def build_connector(name: str, settings: ConnectionSettings) -> Connector:
    """A connector for the validated ``settings`` of connection ``name``."""
    return connector_class(settings.type)(name, settings)
