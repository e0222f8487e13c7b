"""A sandbox package is all a new system writes: ``sandbox serve``, saved state and the demo pick it up.

The toy system in ``extra_sandboxes/toy`` declares its ``SANDBOX`` and nothing else is edited; the tests
put its folder beside ``campaign_bridge/sandbox/``'s own, as adding the package there would.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests

import campaign_bridge.sandbox
from campaign_bridge.demo import run_demo
from campaign_bridge.sandbox.demo_company import COMPANY
from tests.demo.test_sandbox_serve import START_TIMEOUT, serving

EXTRA = Path(__file__).parent / "extra_sandboxes"
#: The demo company as a marketing system holds it: the toy's seed.
MA_PEOPLE = [rec.person.email for rec in COMPANY.ma]


def _people(toy: dict[str, object], token: str) -> requests.Response:
    return requests.get(f"{toy['base_url']}/v1/people", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_serve_prints_seeds_saves_and_restores_a_registered_sandbox(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    with serving("--seed", "demo", "--state", str(folder), extra_sandboxes=EXTRA) as (proc, info):
        assert {"salesforce", "hubspot", "toy"} <= set(info)
        toy = info["toy"]
        token = toy["auth"]["api_key"]["token"]
        assert _people(toy, token).json() == {"people": MA_PEOPLE}  # seeded with the demo company
        assert _people(toy, "wrong").status_code == 401
        added = requests.post(
            f"{toy['base_url']}/v1/people",
            json={"email": "kept@example.com"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert added.status_code == 201
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=START_TIMEOUT) == 0

    assert json.loads((folder / "toy.json").read_text())["people"] == [*MA_PEOPLE, "kept@example.com"]
    with serving("--seed", "demo", "--state", str(folder), extra_sandboxes=EXTRA) as (_, again):
        toy = again["toy"]
        assert toy["auth"]["api_key"]["token"] == token  # the same credentials
        assert _people(toy, token).json() == {"people": [*MA_PEOPLE, "kept@example.com"]}  # not seeded over


def test_the_demo_seeds_and_saves_a_system_added_to_an_existing_demo_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "company"
    first = run_demo(folder)  # before the toy system exists
    assert (first["changes"], first["conflicts"]) == (17, 4)
    assert not (folder / "toy.json").exists()

    monkeypatch.setattr(campaign_bridge.sandbox, "__path__", [*campaign_bridge.sandbox.__path__, str(EXTRA)])
    again = run_demo(folder)
    # Salesforce and HubSpot came back as they were (nothing to change); the new system was seeded and saved.
    assert (again["seeded"], again["changes"], again["conflicts"]) == (False, 0, 0)
    saved = json.loads((folder / "toy.json").read_text())
    assert saved["people"] == MA_PEOPLE
    third = run_demo(folder)
    assert third["changes"] == 0
    assert json.loads((folder / "toy.json").read_text())["token"] == saved["token"]  # restored, not re-made
