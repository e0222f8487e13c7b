"""The demo company in the Salesforce and HubSpot sandboxes, served in-process for the onboarding tests.

``site`` is shared by a module (starting the sandboxes costs a TLS certificate); a test that changes what the
integration user may do (revoked describe permissions, narrowed scopes, a daily limit) undoes it itself
through ``restore``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from campaign_bridge.cli import main
from campaign_bridge.connectors.base import Connector, Watermark
from campaign_bridge.demo import write_client_files
from campaign_bridge.mapping.model import Container, ContainerKind
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.sandbox.hubspot import HubSpotSandbox
from campaign_bridge.sandbox.hubspot.state import GRANTED_SCOPES
from campaign_bridge.sandbox.salesforce import SalesforceSandbox


@dataclass
class Site:
    folder: Path
    config: Path
    environ: dict[str, str]
    sandboxes: Sandboxes

    @property
    def salesforce(self) -> SalesforceSandbox:
        return self.sandboxes.get("salesforce", SalesforceSandbox)

    @property
    def hubspot(self) -> HubSpotSandbox:
        return self.sandboxes.get("hubspot", HubSpotSandbox)

    def info(self) -> dict[str, Any]:
        return self.sandboxes.connection_info()

    def run(self, *args: str, input: str | None = None) -> Result:
        """``campaign-bridge ARGS`` with the demo's secrets in the environment."""
        return CliRunner().invoke(main, list(args), env=self.environ, input=input)


class Plain(Connector):
    """A connector with the contract only (no ``SupportsDiscovery``), as a system added later may be."""

    system = "memory-crm"

    def list_containers(self) -> Sequence[Container]:
        return [Container(self.name, "c1", "Expo", ContainerKind.CAMPAIGN, has_status=True)]

    def read_members(self, container: Container, since: Watermark | None = None, until: Any = None) -> Iterator[Any]:
        raise NotImplementedError

    def lookup_people(self, emails: Sequence[str]) -> dict[str, list[Any]]:
        raise NotImplementedError

    def apply_changes(self, container: Container, changes: Sequence[Any]) -> list[Any]:
        raise NotImplementedError


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("onboarding")
    with Sandboxes(folder) as sandboxes:
        sandboxes.seed_demo(datetime.now(UTC))
        config, environ = write_client_files(folder, sandboxes)
        yield Site(folder, config, environ, sandboxes)


@pytest.fixture
def restore(site: Site) -> Iterator[Site]:
    """The site, with what the integration user may do put back after the test."""
    yield site
    site.salesforce.state.revoked.clear()
    site.hubspot.state.scopes = list(GRANTED_SCOPES)
    site.hubspot.state.limits.daily = None
