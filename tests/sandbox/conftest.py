"""The Salesforce emulator over HTTPS and the unmodified simple-salesforce client logged in to it.

(HubSpot test modules define their own ``sandbox``, which takes precedence there.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce.api import Salesforce

from campaign_bridge.sandbox.http import TlsFiles, make_tls
from campaign_bridge.sandbox.salesforce import SalesforceSandbox


@pytest.fixture(scope="module")
def tls() -> TlsFiles:
    return make_tls()


@pytest.fixture
def sandbox(tls: TlsFiles) -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(tls=tls) as running:
        yield running


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Salesforce:
    return Salesforce(
        instance_url=sandbox.instance_url,
        session_id=sandbox.credentials["session_id"],
        session=sandbox.requests_session(),
    )
