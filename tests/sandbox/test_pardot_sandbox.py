"""The Account Engagement sandbox: every login flow its ``serve`` section prints works through the
connector, its saved state loads back unchanged, and its limits answer with v5's codes."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from campaign_bridge.connectors.pardot import PardotConnector, PardotSettings
from campaign_bridge.sandbox.demo_company import COMPANY
from campaign_bridge.sandbox.pardot import SANDBOX, PardotSandbox
from campaign_bridge.sandbox.salesforce.state import SalesforceState
from campaign_bridge.sandbox.spec import SandboxFiles


@pytest.mark.parametrize("method", ["client_credentials", "password", "jwt_bearer", "session"])
def test_each_login_flow_of_the_serve_section_reaches_the_business_unit(tmp_path: Path, method: str) -> None:
    with PardotSandbox() as sb:
        SANDBOX.seed_demo(sb, COMPANY, datetime.now(UTC))
        info = SANDBOX.connection_info(sb, SandboxFiles(tmp_path))
        settings = PardotSettings(
            business_unit_id=info["business_unit_id"],
            base_url=info["base_url"],
            login_url=info["login_url"],
            auth=info["auth"][method],
        )
        conn = PardotConnector("pd", settings)
        names = {c.name for c in conn.list_containers()}
        conn.close()
    assert {"Webinar Q4 nurture", "Clicked a marketing email", "Website Tracking"} <= names


def test_the_demo_seed_is_messy_as_the_demo_needs(tmp_path: Path) -> None:
    with PardotSandbox() as sb:
        SANDBOX.seed_demo(sb, COMPANY, datetime.now(UTC))
        state = sb.state
        linus = state.by_email("linus@initech.example")
        assert sorted(p.salesforce_id or "" for p in linus) == ["0035g00000DEMOLNAAA", "00Q5g00000DEMOLNAAA"]
        assert state.by_email("bad address@globex.example") == []  # Pardot refuses the address
        assert any(lst.is_dynamic for lst in state.lists.values())
        assert all(c.salesforce_id for c in state.campaigns.values() if c.name.endswith("2026"))


def test_saved_state_loads_back_unchanged_and_new_ids_never_collide(tmp_path: Path) -> None:
    with PardotSandbox() as sb:
        SANDBOX.seed_demo(sb, COMPANY, datetime.now(UTC))
        saved = json.loads(json.dumps(SANDBOX.dump(sb), default=str))
    with PardotSandbox() as again:
        SANDBOX.load(again, json.loads(json.dumps(saved)))
        assert json.loads(json.dumps(SANDBOX.dump(again), default=str)) == saved
        fresh = again.state.add_prospect("new@x.example")
        assert fresh > max(p["id"] for p in saved["prospects"])
        with pytest.raises(ValueError, match="empty sandbox"):
            SANDBOX.load(again, saved)


def test_it_accepts_the_tokens_of_a_salesforce_org_it_is_given() -> None:
    org = SalesforceState()
    with PardotSandbox(org=org) as sb:
        headers = {"Authorization": f"Bearer {org.issue_session()}", "Pardot-Business-Unit-Id": sb.business_unit_id}
        assert requests.get(f"{sb.url}/api/v5/objects/lists?fields=id", headers=headers, timeout=5).status_code == 200


def test_limits_answer_codes_66_and_122_and_a_new_day_restores_the_allotment() -> None:
    # Each request holds its slot a second: long enough that the eight overlap even when the test's threads start
    # late on a busy machine (at 0.2 s a CI run sharing its cores saw all eight answered one after another).
    with PardotSandbox(limits=True, latency=1.0) as sb:
        headers = {"Authorization": f"Bearer {sb.token()}", "Pardot-Business-Unit-Id": sb.business_unit_id}
        url = f"{sb.url}/api/v5/objects/lists?fields=id"
        start = threading.Barrier(8)

        def get(_: int) -> requests.Response:
            start.wait()  # all eight are sent together, not as the pool happens to start its threads
            return requests.get(url, headers=headers, timeout=10)

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(get, range(8)))
        refused = [a for a in answers if a.status_code == 429]
        assert len(answers) - len(refused) <= 5
        assert refused
        assert {a.json()["code"] for a in refused} == {66}
        sb.app.latency = 0.0
        requests.post(f"{sb.url}/__sandbox/limits", json={"on": True, "daily": sb.state.usage}, timeout=5)
        spent = requests.get(url, headers=headers, timeout=5)
        assert (spent.status_code, spent.json()["code"]) == (429, 122)
        requests.post(f"{sb.url}/__sandbox/new-day", timeout=5)
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
