"""Runs the contract suite (``campaign_bridge.testing``) against every connector that has a harness.

A new connector adds one entry, its harness, to ``TestContract``; it is done when the whole suite passes.
"""

from __future__ import annotations

from campaign_bridge.mapping.semantics import Role
from campaign_bridge.testing import contract_suite
from tests.contract.harness_dynamics import DynamicsHarness
from tests.contract.harness_hubspot import HubSpotHarness
from tests.contract.harness_marketo import MarketoHarness
from tests.contract.harness_memory import MemoryHarness
from tests.contract.harness_pardot import PardotHarness
from tests.contract.harness_salesforce import SalesforceHarness

TestContract = contract_suite(
    {
        "memory-crm": lambda: MemoryHarness(Role.CRM),
        "memory-ma": lambda: MemoryHarness(Role.MA),
        "salesforce": SalesforceHarness,
        "hubspot": HubSpotHarness,
        "dynamics": DynamicsHarness,
        "marketo": MarketoHarness,
        "pardot": PardotHarness,
    }
)
