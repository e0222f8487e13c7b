"""A connector package registers itself (``CONNECTOR``): a new system edits no central list, and a client
file imports only the connectors it names."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import campaign_bridge.connectors
from campaign_bridge.config.loader import load_config_text
from campaign_bridge.connectors.registry import build_connector, connector_class, connector_types
from campaign_bridge.errors import ConfigError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.mapping.semantics import SEMANTICS, KindSemantics, Role, SystemSemantics

#: A connector package as a new system would write it, cut to what the registry sees.
DROPPED_IN = """
from __future__ import annotations

from typing import ClassVar, Literal

from campaign_bridge.connectors.base import ConnectionSettings, Connector


class DropSettings(ConnectionSettings):
    type: Literal["dropin"] = "dropin"
    base_url: str


class DropConnector(Connector):
    system: ClassVar[str] = "{system}"
    Settings: ClassVar[type[ConnectionSettings]] = DropSettings

    def list_containers(self):
        return []

    def read_members(self, container, since=None, until=None):
        return iter(())

    def lookup_people(self, emails):
        return {{}}

    def apply_changes(self, container, changes):
        return []


CONNECTOR = DropConnector
"""
DROPIN_ROW = SystemSemantics(
    "dropin",
    Role.MA,
    "lists of contacts",
    ("contact",),
    {"list": (KindSemantics(ContainerKind.STATIC_LIST, holds_membership=True, writable=True),)},
)


@pytest.fixture
def drop_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Writes a ``dropin`` package (declaring ``system``) beside the real connector packages."""
    monkeypatch.setattr(campaign_bridge.connectors, "__path__", [*campaign_bridge.connectors.__path__, str(tmp_path)])

    def write(system: str) -> None:
        package = tmp_path / "dropin"
        package.mkdir()
        (package / "__init__.py").write_text(textwrap.dedent(DROPPED_IN.format(system=system)))

    try:
        yield write
    finally:
        sys.modules.pop("campaign_bridge.connectors.dropin", None)


def test_a_new_connector_package_is_a_type_with_no_other_edit(
    drop_in: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_in("dropin")
    monkeypatch.setitem(SEMANTICS, "dropin", DROPIN_ROW)  # the semantics row CONNECTORS.md asks for first
    config = load_config_text(
        "client: x\nconnections:\n  d: {type: dropin, base_url: 'http://127.0.0.1:1'}\nrules: []\n", "c.yaml"
    )
    assert build_connector("d", config.connections["d"]).system == "dropin"
    assert "dropin" in connector_types()


def test_a_connector_without_its_semantics_row_is_named_as_the_bug(drop_in: Callable[[str], None]) -> None:
    drop_in("dropin")
    with pytest.raises(TypeError, match=r"no row in mapping/semantics\.py"):
        connector_class("dropin")


def test_a_package_declaring_another_system_is_a_bug(
    drop_in: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_in("hubspot")
    monkeypatch.setitem(SEMANTICS, "dropin", DROPIN_ROW)
    with pytest.raises(TypeError, match="DropConnector.system is 'hubspot'"):
        connector_class("dropin")


def test_every_shipped_type_resolves_to_its_own_connector() -> None:
    types = connector_types()
    assert {"memory-crm", "memory-ma", "hubspot", "salesforce"} <= set(types)  # a superset: systems join
    assert "kit" not in types
    assert all(connector_class(t).system == t for t in types)


@pytest.mark.parametrize(
    "name", ["kit", "base", "policy", "registry", "hubspot.client", "_x", "", None, 3, ["hubspot"]]
)
def test_helpers_modules_and_odd_values_are_unknown_types(name: object) -> None:
    with pytest.raises(KeyError):
        connector_class(name)


def test_an_unknown_type_suggests_and_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as refused:
        load_config_text("client: x\nconnections:\n  h: {type: hubspt}\nrules: []\n", "c.yaml")
    [problem] = [str(p) for p in refused.value.problems]
    assert problem == (
        "c.yaml:3: connection 'h': unknown type 'hubspt'; did you mean 'hubspot'? "
        f"(known: {', '.join(connector_types())})"
    )


#: Loads a HubSpot-only client file in a fresh interpreter and names the connector packages it imported.
_HUBSPOT_ONLY = """
import sys
from campaign_bridge.config.loader import load_config_text
text = "client: x\\nconnections:\\n  hs: {type: hubspot, auth: {method: private_app, token: '${HS}'}}\\nrules: []\\n"
load_config_text(text, "c.yaml", {"HS": "t"})
print(sorted(m for m in sys.modules if m == "simple_salesforce" or m.count(".") == 2 and ".connectors." in m))
"""


def test_a_client_file_imports_only_the_connectors_it_names() -> None:
    done = subprocess.run([sys.executable, "-c", _HUBSPOT_ONLY], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = done.stdout.strip()
    assert "salesforce" not in imported
    assert "campaign_bridge.connectors.hubspot" in imported
