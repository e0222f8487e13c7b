"""The connector contract suite, reusable outside this repository's ``tests/`` (like ``singer_sdk.testing``).

A connector is done when the whole suite passes against its real system (or emulator) through a
``Harness``. In a test module::

    from campaign_bridge.testing import contract_suite

    TestContract = contract_suite({"salesforce": SalesforceHarness, "hubspot": HubSpotHarness})

runs every contract test once per harness (test ids are the keys). The suite covers the four verbs
(``contract.CoreContract``) and the abilities a connector declares (``abilities.AbilitiesContract``:
``concurrent_calls`` and ``SupportsBulkApply``).

This package imports pytest, a development dependency only: nothing in the product imports
``campaign_bridge.testing`` (``tests/contract/test_testing_package.py`` checks that the CLI, the demo
and every sandbox import without pytest), so users never need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

try:
    import pytest
except ImportError as exc:  # pragma: no cover - only without the dev extra
    raise ImportError("campaign_bridge.testing needs pytest: pip install 'campaign-bridge[dev]'") from exc

# Before the suite's modules are imported, so their plain asserts explain failures as tests' own do.
pytest.register_assert_rewrite("campaign_bridge.testing.contract", "campaign_bridge.testing.abilities")

from campaign_bridge.testing.abilities import AbilitiesContract  # noqa: E402
from campaign_bridge.testing.contract import CoreContract  # noqa: E402
from campaign_bridge.testing.harness import FakeClock, Harness  # noqa: E402

__all__ = ["AbilitiesContract", "ContractSuite", "CoreContract", "FakeClock", "Harness", "contract_suite"]

HarnessFactory = Callable[[], Harness]


class ContractSuite(CoreContract, AbilitiesContract):
    """Every contract test. A subclass supplies the ``harness`` fixture; ``contract_suite`` makes one."""


def contract_suite(harnesses: Mapping[str, HarnessFactory]) -> type[ContractSuite]:
    """A test class running the whole suite once per harness in ``harnesses`` ({test id: factory}); each
    harness is made fresh for each test and closed after it. Bind it to a ``Test*`` name in a test module."""
    factories = dict(harnesses)

    class Contract(ContractSuite):
        @pytest.fixture(params=sorted(factories))
        def harness(self, request: pytest.FixtureRequest) -> Iterator[Harness]:
            made = factories[request.param]()
            try:
                yield made
            finally:
                made.close()

    return Contract
