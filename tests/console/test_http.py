"""The console over HTTP, without a browser: refusals that change nothing, the reverse-proxy login, the
held-plan decision against a stale page, ``serve`` carrying the console, and ``campaign-bridge ui``."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from campaign_bridge.cli import main
from campaign_bridge.console.app import console_app
from campaign_bridge.console.auth import COOKIE, MAX_FAILURES, TOKEN_ENV, AuthSettings, hash_password
from campaign_bridge.console.state import Console
from campaign_bridge.service.http import HealthServer, HttpServer
from campaign_bridge.service.service import Service
from campaign_bridge.sync.store.rows import LedgerRow
from campaign_bridge.sync.store.states import LedgerState
from tests.console.conftest import PASSWORD
from tests.sync.world import World

RULES = """
  - name: web
    from: {connection: crm, campaign: Webinar, member_status: [Responded]}
    to: {connection: ma, list: Nurture}
    mode: mirror
    safety: {max_removals: 1}
"""


@dataclass
class Served:
    world: World
    path: Path
    console: Console
    url: str

    def session(self, user: str | None = None, headers: dict[str, str] | None = None) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.headers.update(headers or {})
        if user is not None:
            answer = s.post(f"{self.url}/login", data={"name": user, "password": PASSWORD}, allow_redirects=False)
            assert answer.status_code == 303
        return s


def _client_file(world: World, tmp: Path) -> Path:
    path = tmp / "test.yaml"
    path.write_text(
        f"client: test\nstate: sqlite:///{tmp / 'state.db'}\nconnections:\n"
        f"  crm: {{type: memory-crm, store: {world.crm_name}}}\n"
        f"  ma: {{type: memory-ma, store: {world.ma_name}}}\nrules:\n{RULES}"
    )
    return path


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    world = World(tmp_path)
    path = _client_file(world, tmp_path)
    console = Console([str(path)])
    now = datetime.now(UTC)
    console.store.put_user("vera", hash_password(PASSWORD), "viewer", now)
    console.store.put_user("olga", hash_password(PASSWORD), "operator", now)
    console.store.put_user("adam", hash_password(PASSWORD), "admin", now)
    header = getattr(request, "param", None)
    server = HttpServer(console_app(console, AuthSettings(header=header)), "127.0.0.1", 0)
    server.start()
    try:
        yield Served(world, path, console, server.url)
    finally:
        server.stop()
        console.close()
        world.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def _hold(served: Served) -> None:
    w = served.world
    camp, _ = w.campaign("Webinar"), w.ma_list("Nurture")
    ids = [w.crm_person(f"p{i}@x.com") for i in range(4)]
    for pid in ids:
        w.crm.add_member(camp, pid, "Responded")
    cfg = served.console.client("test").config
    assert w.sync(cfg, "web").status == "ok"
    for pid in ids[:2]:
        w.crm.remove_member(camp, pid)
    assert w.sync(cfg, "web").status == "held"


def test_bad_input_is_refused_with_the_reason(served: Served) -> None:
    s = served.session("vera")
    answer = s.get(f"{served.url}/c/test/r/nope")
    assert answer.status_code == 404
    assert "no rule named 'nope'" in html.unescape(answer.text)
    answer = s.get(f"{served.url}/conflicts", params={"since": "last tuesday"})
    assert answer.status_code == 400
    assert "is not a date" in answer.text
    assert s.get(f"{served.url}/explain", params={"email": "nobody"}).status_code == 400


def test_a_decision_on_a_stale_page_changes_nothing(served: Served) -> None:
    _hold(served)
    s = served.session("olga")
    page = s.get(f"{served.url}/c/test/r/web").text
    plan = served.console.store.held_plan("web")
    assert plan is not None
    form = {"csrf": _csrf(page), "run_id": str(plan.run_id), "fingerprint": plan.fingerprint}
    stale = s.post(f"{served.url}/c/test/r/web/approve", data={**form, "fingerprint": "0" * 64})
    assert stale.status_code == 409
    assert "differ from those shown" in stale.text
    older = s.post(f"{served.url}/c/test/r/web/approve", data={**form, "run_id": "1"})
    assert older.status_code == 409
    assert "not the newest held plan" in older.text
    held = served.console.store.held_plan("web")
    assert held is not None
    assert held.decision is None

    assert s.post(f"{served.url}/c/test/r/web/discard", data=form).status_code == 200
    held = served.console.store.held_plan("web")
    assert held is not None
    assert held.decision == "discarded"
    again = s.post(f"{served.url}/c/test/r/web/approve", data=form)
    assert again.status_code == 409
    assert "already discarded by olga" in again.text
    (entry,) = [a for a in served.console.store.audit_entries() if a["action"] == "discarded"]
    assert entry["user"] == "olga"
    assert entry["target"] == "test/web"


def test_login_never_sends_people_to_another_site(served: Served) -> None:
    s = requests.Session()
    s.trust_env = False
    answer = s.post(
        f"{served.url}/login",
        data={"name": "vera", "password": PASSWORD, "next": "//evil.example/x"},
        allow_redirects=False,
    )
    assert answer.headers["location"] == "/"
    assert "HttpOnly" in answer.headers["set-cookie"]
    assert "SameSite=strict" in answer.headers["set-cookie"]
    page = s.get(f"{served.url}/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("served", ["X-Remote-User"], indirect=True)
def test_a_reverse_proxy_names_the_user(served: Served) -> None:
    nobody = served.session().get(f"{served.url}/", allow_redirects=False)
    assert nobody.status_code == 303  # no header: the login page
    admin = served.session(headers={"X-Remote-User": "adam"}).get(f"{served.url}/")
    assert "adam (admin)" in admin.text
    stranger = served.session(headers={"X-Remote-User": "zed"})
    page = stranger.get(f"{served.url}/c/test/r/web").text
    assert "zed (viewer)" in page
    refused = stranger.post(f"{served.url}/c/test/r/web/run", data={"csrf": _csrf(page)})
    assert refused.status_code == 403


def test_serve_carries_the_console_next_to_healthz_and_metrics(served: Served) -> None:
    service = Service([str(served.path)], reconcile_cron=None)
    service.start(paused=True)
    console = Console([str(served.path)])
    server = HealthServer(service, "127.0.0.1", 0, console=console, auth=AuthSettings())
    server.start()
    try:
        s = requests.Session()
        s.trust_env = False
        assert s.get(f"{server.url}/healthz").json()["status"] == "ok"
        assert "campaign_bridge_runs_total" in s.get(f"{server.url}/metrics").text
        assert s.get(f"{server.url}/", allow_redirects=False).status_code == 303
        s.post(f"{server.url}/login", data={"name": "vera", "password": PASSWORD})
        overview = s.get(f"{server.url}/").text
        assert "vera (viewer)" in overview
        assert "every 15m" in overview  # the defaults' schedule; its next fire time is the scheduler's
    finally:
        server.stop()
        service.stop()
        console.close()


def test_ui_adds_users_and_will_not_start_without_a_way_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(tmp_path)
    try:
        path = _client_file(world, tmp_path)
        monkeypatch.delenv(TOKEN_ENV, raising=False)
        runner = CliRunner()
        refused = runner.invoke(main, ["ui", str(path), "--port", "0"])
        assert refused.exit_code == 2
        assert "no way to log in" in refused.output
        short = runner.invoke(main, ["ui", str(path), "--add-user", "ann", "--password-stdin"], input="short\n")
        assert short.exit_code == 2
        added = runner.invoke(
            main,
            ["ui", str(path), "--add-user", "ann", "--role", "operator", "--password-stdin"],
            input=PASSWORD + "\n",
        )
        assert added.exit_code == 0, added.output
        user = world.store.user("ann")
        assert user is not None
        assert user.role == "operator"
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith("$argon2")
    finally:
        world.close()


def _wait_for(served: Served, rule: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        activity = served.console.activity("test", rule)
        if activity is not None and not activity.running:
            return
        time.sleep(0.05)
    raise AssertionError("the console's run did not finish")


def test_dead_letters_are_listed_and_retried(served: Served) -> None:
    (key,) = served.world.store.add_persons(["dead@x.com"], datetime.now(UTC))
    row = LedgerRow("web", key, "ma", "L1", None, None, None, False, LedgerState.DEAD, 5, "HTTP 400: bad email", None)
    served.world.store.write_ledger([row])
    viewer = served.session("vera")
    page = viewer.get(f"{served.url}/c/test/dead").text
    assert "dead@x.com" in page
    assert "HTTP 400: bad email" in page
    assert viewer.post(f"{served.url}/c/test/r/web/retry", data={"csrf": _csrf(page)}).status_code == 403
    operator = served.session("olga")
    page = operator.get(f"{served.url}/c/test/dead").text
    done = operator.post(f"{served.url}/c/test/r/web/retry", data={"csrf": _csrf(page)})
    assert "1 items requeued" in done.text
    assert served.world.store.ledger("web")[key].state == LedgerState.FAILED
    assert any(a["action"] == "retry" and a["user"] == "olga" for a in served.console.store.audit_entries())


def test_reconcile_then_confirm_a_repair(served: Served) -> None:
    w = served.world
    camp, lst = w.campaign("Webinar"), w.ma_list("Nurture")
    for i in range(3):
        w.crm.add_member(camp, w.crm_person(f"p{i}@x.com"), "Responded")
    assert w.sync(served.console.client("test").config, "web").status == "ok"
    w.ma.remove_member(lst, next(iter(w.ma.members(lst))))  # someone removed a member by hand
    s = served.session("olga")
    page = s.get(f"{served.url}/c/test/r/web").text
    assert s.post(f"{served.url}/c/test/r/web/reconcile", data={"csrf": _csrf(page)}).status_code == 200
    _wait_for(served, "web")
    findings = s.get(f"{served.url}/c/test/reconcile").text
    assert "missing" in findings
    confirm = s.get(f"{served.url}/c/test/r/web/repair").text
    assert "what the repair writes" in confirm
    assert "records the removal as respected" in confirm  # the rule's on_manual_removal: respect (default)
    unconfirmed = s.post(f"{served.url}/c/test/r/web/repair", data={"csrf": _csrf(confirm)})
    assert unconfirmed.status_code == 400
    assert "not confirmed" in unconfirmed.text


def test_a_file_changed_on_disk_since_the_page_is_not_overwritten(served: Served) -> None:
    s = served.session("adam")
    page = s.get(f"{served.url}/c/test/file").text
    base = re.search(r'name="base" value="([0-9a-f]+)"', page)
    assert base is not None
    on_disk = served.path.read_text() + "# edited elsewhere meanwhile\n"
    served.path.write_text(on_disk)
    mine = served.path.read_text().replace("mode: mirror", "mode: additive")
    answer = s.post(
        f"{served.url}/c/test/file",
        data={"csrf": _csrf(page), "base": base.group(1), "text": mine, "action": "save"},
    )
    assert answer.status_code == 409
    assert "changed on disk" in answer.text
    assert served.path.read_text() == on_disk
    assert served.console.store.file_versions(str(served.path)) == []


def test_password_guessing_is_throttled(served: Served) -> None:
    s = served.session()
    for _ in range(MAX_FAILURES):
        wrong = s.post(f"{served.url}/login", data={"name": "adam", "password": "guess"}, allow_redirects=False)
        assert wrong.status_code == 401
    right = s.post(f"{served.url}/login", data={"name": "adam", "password": PASSWORD}, allow_redirects=False)
    assert right.status_code == 429
    assert "too many failed logins" in right.text
    assert COOKIE not in right.cookies
    assert any(a["action"] == "login_refused" for a in served.console.store.audit_entries())


def test_ui_removes_a_user_and_ends_their_sessions(served: Served) -> None:
    s = served.session("vera")
    assert s.get(f"{served.url}/", allow_redirects=False).status_code == 200
    removed = CliRunner().invoke(main, ["ui", str(served.path), "--remove-user", "vera"])
    assert removed.exit_code == 0, removed.output
    assert s.get(f"{served.url}/", allow_redirects=False).status_code == 303  # logged out
    again = CliRunner().invoke(main, ["ui", str(served.path), "--remove-user", "vera"])
    assert again.exit_code == 2
    assert "no console user named 'vera'" in again.output
