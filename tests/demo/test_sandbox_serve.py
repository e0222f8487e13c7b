"""``campaign-bridge sandbox serve`` as a user runs it: a separate process, its JSON line, the real clients."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hubspot
import requests
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from simple_salesforce.api import Salesforce

from campaign_bridge.connectors.policy import CallPolicy
from campaign_bridge.connectors.salesforce import SalesforceConnector, SalesforceSettings

START_TIMEOUT = 60  # seconds for the process to print its line (a guard against a hung test, not a wait)
#: ``campaign-bridge`` with one more folder of sandbox packages, as if they were in ``campaign_bridge/sandbox/``.
_WITH_EXTRA_SANDBOXES = (
    "import sys, campaign_bridge.sandbox as s; s.__path__.append(sys.argv.pop(1)); "
    "from campaign_bridge.cli import main; main(sys.argv[1:], prog_name='campaign-bridge')"
)


@contextmanager
def serving(*args: str, extra_sandboxes: Path | None = None) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """Start ``sandbox serve`` with ``args`` (and the sandbox packages in ``extra_sandboxes``); yield the
    process and its JSON line; stop it with SIGTERM."""
    command = [sys.executable, "-m", "campaign_bridge.cli"]
    if extra_sandboxes is not None:
        command = [sys.executable, "-c", _WITH_EXTRA_SANDBOXES, str(extra_sandboxes)]
    proc = subprocess.Popen(
        [*command, "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(START_TIMEOUT), "sandbox serve printed nothing"
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=START_TIMEOUT)


def _salesforce(info: dict[str, Any], access_token: str) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE in the environment overrides ``verify``
    session.verify = info["ca_bundle"]
    return Salesforce(instance_url=info["instance_url"], session_id=access_token, session=session)


def test_serves_both_sandboxes_keeps_what_clients_create_and_exits_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    with serving("--seed", "none", "--state", str(folder)) as (proc, info):
        sf, hs = info["salesforce"], info["hubspot"]
        # The line's shape, as users' scripts read it (other systems' sections may sit beside these).
        assert {"salesforce", "hubspot", "state", "pid"} <= set(info)
        assert info["state"] == str(folder)
        assert set(sf) == {
            "instance_url",
            "login_url",
            "token_url",
            "soap_login_url",
            "api_version",
            "ca_bundle",
            "auth",
        }
        assert set(sf["auth"]) == {"client_credentials", "password", "jwt_bearer", "session"}
        assert set(hs) == {"base_url", "token_url", "auth"}
        assert set(hs["auth"]) == {"private_app", "oauth"}
        assert sf["instance_url"].startswith("https://127.0.0.1:")
        assert hs["base_url"].startswith("http://127.0.0.1:")

        # Salesforce: an OAuth client-credentials login at the printed token URL, then simple-salesforce.
        creds = sf["auth"]["client_credentials"]
        token = requests.post(
            sf["token_url"],
            data={"grant_type": "client_credentials", **{k: creds[k] for k in ("client_id", "client_secret")}},
            verify=sf["ca_bundle"],
            timeout=10,
        )
        assert token.status_code == 200, token.text
        client = _salesforce(sf, token.json()["access_token"])
        created = client.Campaign.create({"Name": "Spring launch", "IsActive": True})
        found = client.query("SELECT Id, Name FROM Campaign WHERE Name = 'Spring launch'")
        assert [r["Id"] for r in found["records"]] == [created["id"]]
        # The printed session works as it is.
        assert _salesforce(sf, sf["auth"]["session"]["session_id"]).query("SELECT Id FROM Campaign")["totalSize"] == 1

        # HubSpot: the private-app token, then a token minted from the OAuth refresh token.
        portal = hubspot.Client.create(access_token=hs["auth"]["private_app"]["token"], host=hs["base_url"])
        contact = portal.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "kept@example.com", "firstname": "Kept"})
        )
        oauth = hs["auth"]["oauth"]
        minted = requests.post(
            hs["token_url"],
            data={
                "grant_type": "refresh_token",
                "client_id": oauth["client_id"],
                "client_secret": oauth["client_secret"],
                "refresh_token": oauth["refresh_token"],
            },
            timeout=10,
        )
        assert minted.status_code == 200, minted.text
        again = hubspot.Client.create(access_token=minted.json()["access_token"], host=hs["base_url"])
        assert again.crm.contacts.basic_api.get_by_id(contact.id).properties["email"] == "kept@example.com"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=START_TIMEOUT) == 0

    # Started again on the folder: the same systems (what clients created, the same credentials), not a seed.
    with serving("--seed", "demo", "--state", str(folder)) as (_, again):
        sf2, hs2 = again["salesforce"], again["hubspot"]
        assert sf2["auth"]["client_credentials"] == creds
        assert hs2["auth"]["private_app"] == hs["auth"]["private_app"]
        session = _salesforce(sf2, sf2["auth"]["session"]["session_id"])
        assert [r["Name"] for r in session.query("SELECT Name FROM Campaign")["records"]] == ["Spring launch"]
        portal = hubspot.Client.create(access_token=hs2["auth"]["private_app"]["token"], host=hs2["base_url"])
        emails = [c.properties["email"] for c in portal.crm.contacts.basic_api.get_page(limit=100).results]
        assert emails == ["kept@example.com"]


def test_every_printed_salesforce_auth_method_logs_in(tmp_path: Path) -> None:
    with serving("--seed", "demo") as (_, info):
        sf = info["salesforce"]
        for method, auth in sf["auth"].items():
            settings = SalesforceSettings.model_validate(
                {
                    "type": "salesforce",
                    "instance_url": sf["instance_url"],
                    "login_url": sf["login_url"],
                    "ca_bundle": sf["ca_bundle"],
                    "auth": auth,
                }
            )
            conn = SalesforceConnector("sf", settings, policy=CallPolicy(attempts=1, sleep=lambda _: None))
            try:
                names = {c.name for c in conn.list_containers()}
            finally:
                conn.close()
            assert "Webinar 2026-Q4" in names, method  # the demo company's campaigns
