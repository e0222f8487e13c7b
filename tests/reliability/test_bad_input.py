"""Bad input gets a clear message, never a traceback, never a partial write.

Client files (malformed YAML, wrong types, unknown connections, unset secrets) are refused by
``validate`` and ``sync`` alike, with ``file:line`` and before anything is written. People with odd or
missing emails sync or are refused with a reason. A vendor answering garbage fails the run with a
message naming the system, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.sandbox.http import Request, Response
from campaign_bridge.sync.engine import Engine
from campaign_bridge.sync.explain import explain
from campaign_bridge.sync.store.store import Store
from tests.reliability.bench import Bench

GOOD = """client: acme
state: sqlite:///{state}
connections:
  hs: {{type: hubspot, auth: {{method: private_app, token: "${{HS_TOKEN}}"}}}}
  crm: {{type: memory-crm, store: bad-input}}
rules:
  - name: webinar
    from: {{connection: crm, campaign: Webinar}}
    to: {{connection: hs, list: Nurture}}
"""

CASES = {
    "malformed YAML": (GOOD.replace("rules:", "rules: [oops"), {"HS_TOKEN": "x"}, "YAML syntax"),
    "wrong type": (GOOD + "defaults: {{max_attempts: lots}}\n", {"HS_TOKEN": "x"}, "max_attempts"),
    "unknown connection": (
        GOOD.replace("connection: crm,", "connection: crmm,"),
        {"HS_TOKEN": "x"},
        "unknown connection 'crmm'; did you mean 'crm'?",
    ),
    "missing secret": (GOOD, {}, "environment variable HS_TOKEN is not set"),
    "secret in the file": (
        GOOD.replace('"${{HS_TOKEN}}"', "pat-na1-123"),
        {},
        "secrets must not be written in the file",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "sync"])
def test_a_bad_client_file_is_refused_with_a_located_message_and_nothing_written(
    case: str, command: str, tmp_path: Path
) -> None:
    template, env, expected = CASES[case]
    state = tmp_path / "state.db"
    config = tmp_path / "client.yaml"
    config.write_text(template.format(state=state), encoding="utf-8")
    result = CliRunner().invoke(
        main, [command, str(config), *(["--offline"] if command == "validate" else [])], env={"HS_TOKEN": None, **env}
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert f"{config}:" in result.output  # file (and line) named
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert not state.exists()  # nothing written


# -- people ---------------------------------------------------------------------------------------------
@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    b = Bench(tmp_path)
    yield b
    b.close()


def _hs_to_sf(bench: Bench, tmp: Path) -> tuple[Engine, Store, str, str]:
    store = Store(f"sqlite:///{tmp / 'state.db'}")
    config = bench.config(
        """  - name: people
    from: {connection: hs, list: Source}
    to: {connection: sf, campaign: Webinar, status: Responded}
    match: {create_missing: lead}
""",
        f"sqlite:///{tmp / 'state.db'}",
    )
    source = bench.hs.state.add_list("Source", "MANUAL")
    campaign = bench.sf.state.add_campaign("Webinar", statuses=[("Sent", False), ("Responded", True)])
    return Engine(config, store, bench.connectors(config), clock=bench.clock), store, source, campaign


def test_odd_emails_sync_or_are_refused_with_a_reason(bench: Bench, tmp_path: Path) -> None:
    engine, store, source, campaign = _hs_to_sf(bench, tmp_path)
    hs, sf = bench.hs.state, bench.sf.state
    quoted = sf.add_contact("o'brien@example.com")  # a quote inside the SOQL lookup
    emails = ["o'brien@example.com", "  Spaced@Example.com ", "zoë@exämple.com", "", '"q"@example.com']
    hs.add_list_members(source, [hs.add_contact(e) for e in emails])

    report = engine.sync("people")

    assert report.status in ("ok", "partial"), report.message
    members = {(sf.get(i) or {}).get("Email") for i in sf.members(campaign)}
    assert quoted in sf.members(campaign)  # found through an escaped lookup, not created again
    assert "spaced@example.com" in members  # whitespace and case are not a new person
    for email in ("zoë@exämple.com", '"q"@example.com'):
        if email not in members:
            [entry] = explain(store, engine.config, email)
            assert entry["verdict"].startswith("not in"), entry
            assert any(d["kind"] in ("rejected_record", "unmatched_person") for d in entry["decisions"]), entry
    no_email = [d for d in store.decisions(kind="unmatched_person") if d["email"] is None]
    assert no_email
    assert "no email address" in no_email[0]["detail"]
    store.close()


# -- vendors answering garbage ----------------------------------------------------------------------------
GARBAGE = {
    "invalid JSON": Response(200, b'{"records": [}', content_type="application/json"),
    "HTML error page": Response(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"),
    "truncated body": Response(
        200, b'{"totalSize": 3, "done": true, "records": [{"Id": "003', content_type="application/json"
    ),
}


class Garbage:
    def __init__(self, inner: object, response: Response, path: str) -> None:
        self.inner, self.response, self.path = inner, response, path

    def __call__(self, request: Request) -> Response:
        if self.path in request.path:
            return self.response
        return self.inner(request)  # type: ignore[operator]


@pytest.mark.parametrize("kind", sorted(GARBAGE))
@pytest.mark.parametrize("vendor", ["salesforce", "hubspot"])
def test_a_vendor_answering_garbage_fails_the_run_clearly_and_writes_nothing(
    bench: Bench, tmp_path: Path, vendor: str, kind: str
) -> None:
    engine, store, source, campaign = _hs_to_sf(bench, tmp_path)
    hs = bench.hs.state
    hs.add_list_members(source, [hs.add_contact(f"p{i}@example.com") for i in range(3)])
    server = bench.sf.server if vendor == "salesforce" else bench.hs.server
    server.app = Garbage(server.app, GARBAGE[kind], "/query" if vendor == "salesforce" else "/lists")

    report = engine.sync("people")

    assert report.status == "failed"
    assert ("Salesforce" if vendor == "salesforce" else "HubSpot") in report.message
    assert any(w in report.message for w in ("JSON", "not an object", "unreadable", "text/html", "502", "cut off"))
    assert bench.sf.state.members(campaign) == {}
    assert store.ledger("people") == {}
    [run] = store.runs()
    assert run["status"] == "failed"
    assert run["error"] == report.message
    store.close()
