"""Runs the contract suite against every connector that has a harness.

A new connector adds its harness factory to ``HARNESSES``; it is done when the whole suite passes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

import pytest

from campaign_bridge.mapping.semantics import Role
from tests.contract.harness import Harness
from tests.contract.harness_memory import MemoryHarness


def _lazy(module: str, attr: str) -> Callable[[], Harness]:
    def make() -> Harness:
        factory: Callable[[], Harness] = getattr(importlib.import_module(module), attr)
        return factory()

    return make


HARNESSES: dict[str, Callable[[], Harness]] = {
    "memory-crm": lambda: MemoryHarness(Role.CRM),
    "memory-ma": lambda: MemoryHarness(Role.MA),
}

for _name, _module, _attr in (
    ("salesforce", "tests.contract.harness_salesforce", "SalesforceHarness"),
    ("hubspot", "tests.contract.harness_hubspot", "HubSpotHarness"),
):
    if importlib.util.find_spec(_module) is not None:
        HARNESSES[_name] = _lazy(_module, _attr)


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    h = HARNESSES[request.param]()
    try:
        yield h
    finally:
        h.close()
