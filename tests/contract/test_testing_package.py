"""``campaign_bridge.testing`` needs pytest, a development dependency: the product must never import it."""

from __future__ import annotations

import subprocess
import sys

#: Runs with pytest made unimportable, as in a user's installation without the dev extra.
_WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None  # any `import pytest` now raises ImportError
import campaign_bridge.cli, campaign_bridge.demo
from campaign_bridge.sandbox.registry import discover
assert {"salesforce", "hubspot"} <= {s.name for s in discover()}  # every sandbox imported too
assert not [m for m in sys.modules if m.startswith("campaign_bridge.testing")], "the product imported it"
try:
    import campaign_bridge.testing
except ImportError as exc:
    print(exc)
"""


def test_the_product_imports_without_pytest_and_the_suite_says_what_it_needs() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_PYTEST], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "campaign_bridge.testing needs pytest" in done.stdout
