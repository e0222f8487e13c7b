"""A HubSpot sandbox with the unmodified hubspot-api-client behind a connector (``hs``), fresh per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness_hubspot import HubSpotHarness


@pytest.fixture
def hs() -> Iterator[HubSpotHarness]:
    harness = HubSpotHarness()
    try:
        yield harness
    finally:
        harness.close()
