"""The console driven in a real headless Chromium, on the demo's state: what an admin would do.

One browser and one console serve the whole module; each test logs in as the user it needs.
"""

from __future__ import annotations

import csv
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from campaign_bridge.console.state import Activity
from tests.console.conftest import PASSWORD, TOKEN, Demo

WAIT = 60
RULES = ("webinar-to-nurture", "pricing-requests-to-crm", "bounces-to-crm", "gone-quiet-to-winback", "clickers-to-crm")
HELD_RULE = "webinar-to-nurture"


def login(driver: Any, demo: Demo, user: str | None = None, *, token: str | None = None, go: str = "/") -> None:
    driver.delete_all_cookies()
    driver.get(f"{demo.url}{go}")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "login")))
    if token is not None:
        driver.find_element(By.ID, "token").send_keys(token)
    else:
        assert user is not None
        driver.find_element(By.ID, "name").send_keys(user)
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "who")))


def submit(driver: Any, element_id: str) -> None:
    """Click a button and wait for the page it leads to."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, WAIT).until(ec.staleness_of(page))


def text(driver: Any, element_id: str) -> str:
    return str(WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, element_id))).text)


#: The pytest folder the demo runs in, as pages show it (in paths of the client file, its state, its CA).
_TEMP_FOLDER = re.escape(tempfile.gettempdir()) + r"/pytest-of-[^/\s]+/pytest-\d+/[A-Za-z-]+\d*"
#: Swaps it, in the page's text and form fields, for the folder a user's own demo has.
_NEUTRAL_PATHS = """
const re = new RegExp(arguments[0], "g");
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) node.nodeValue = node.nodeValue.replace(re, arguments[1]);
document.querySelectorAll("textarea, input").forEach((e) => { if (e.value) e.value = e.value.replace(re, arguments[1]); });
"""


def shot(driver: Any, shots: Path, name: str) -> None:
    """A screenshot for docs/console/: the test's temporary folder shown as a user's demo folder would be."""
    driver.execute_script(_NEUTRAL_PATHS, _TEMP_FOLDER, "campaign-bridge-demo")
    driver.save_screenshot(str(shots / f"{name}.png"))


def test_every_page_needs_a_login(demo: Demo, browser: Any) -> None:
    browser.delete_all_cookies()
    for path in ("/", f"/c/demo/r/{HELD_RULE}", "/conflicts", "/explain?email=ada@acme.example", "/c/demo/file"):
        browser.get(f"{demo.url}{path}")
        assert "/login" in browser.current_url, path
        assert browser.find_elements(By.ID, "password")
    # a change without a session is refused and changes nothing
    before = len(demo.store.runs(limit=100))
    answer = demo.session(None).post(f"{demo.url}/c/demo/r/{HELD_RULE}/run", data={"csrf": "x"})
    assert answer.status_code == 401
    # a wrong password is refused, and says so
    browser.find_element(By.ID, "name").send_keys("vera")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login").click()
    assert "wrong name, password or token" in text(browser, "login-error")
    assert len(demo.store.runs(limit=100)) == before


def test_overview_shows_the_demo_rules_and_runs(demo: Demo, browser: Any, shots: Path) -> None:
    login(browser, demo, "vera")
    table = browser.find_element(By.CSS_SELECTOR, "table.rules")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == list(RULES)
    first = rows[0].text
    assert "salesforce → hubspot" in first
    assert "mirror" in first
    assert "every 5m" in first
    assert "ok" in first
    assert "hubspot → salesforce" in rows[1].text
    # the demo leaves dead letters (a refused address): the overview asks a person to look
    assert "dead letters" in text(browser, "attention")
    shot(browser, shots, "overview")

    rows[0].find_element(By.TAG_NAME, "a").click()
    runs = WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "runs")))
    (run,) = demo.store.runs(limit=1, rule=HELD_RULE)
    assert str(run["id"]) in runs.text
    assert "sync" in runs.text
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    shot(browser, shots, "rule")


def test_a_viewer_cannot_run_a_rule(demo: Demo, browser: Any) -> None:
    login(browser, demo, "vera", go=f"/c/demo/r/{HELD_RULE}")
    before = len(demo.store.runs(limit=100))
    browser.find_element(By.ID, "run-now").click()
    assert "needs the operator role" in text(browser, "refused")
    assert len(demo.store.runs(limit=100)) == before


def test_a_stale_form_is_refused(demo: Demo, browser: Any) -> None:
    login(browser, demo, "olga", go=f"/c/demo/r/{HELD_RULE}")
    before = len(demo.store.runs(limit=100))
    browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'stale');")
    browser.find_element(By.ID, "run-now").click()
    assert "CSRF check failed" in text(browser, "refused")
    assert len(demo.store.runs(limit=100)) == before


def _hold_webinar(demo: Demo) -> None:
    """Make the webinar rule want only attendees (two registrants leave) with a limit of one removal."""
    before = demo.config.read_text()
    config = before.replace(
        "      member_status: [Registered, Attended]\n", "      member_status: [Attended]\n", 1
    ).replace(
        "    to: {connection: hs, list: Webinar Q4 nurture}\n",
        "    to: {connection: hs, list: Webinar Q4 nurture}\n    safety: {max_removals: 1}\n",
        1,
    )
    assert config.count("member_status: [Attended]") == 1, "the demo's webinar rule is not as this test expects"
    assert "max_removals: 1" in config, "the demo's webinar rule is not as this test expects"
    demo.config.write_text(config)
    demo.console.load()


def test_preview_a_plan_then_approve_the_held_plan(demo: Demo, browser: Any, shots: Path) -> None:
    _hold_webinar(demo)
    login(browser, demo, "olga", go=f"/c/demo/r/{HELD_RULE}")
    browser.find_element(By.ID, "preview").click()
    preview = WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "plan-preview")))
    assert "2 changes" in preview.text
    assert preview.text.count("left the source, and this rule added them") == 2
    assert "grace@" in preview.text
    assert "alan@" in preview.text
    shot(browser, shots, "preview")
    assert demo.store.held_plan(HELD_RULE) is None  # a preview writes nothing

    browser.find_element(By.ID, "run-now").click()  # the run is held: two removals, limit one
    held = WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "held")))
    assert text(browser, "held-count") == "2"
    assert "max_removals=1" in held.text
    plan = demo.store.held_plan(HELD_RULE)
    assert plan is not None
    assert plan.decision is None
    members_before = demo.store.ledger_counts(HELD_RULE).get("present", 0)
    shot(browser, shots, "held")

    browser.find_element(By.ID, "approve").click()
    WebDriverWait(browser, WAIT).until(ec.alert_is_present()).accept()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.ID, "activity-status") and d.find_element(By.ID, "activity-status").text
    )
    assert text(browser, "activity-status") == "ok"
    assert "approved by olga" in text(browser, "held-decision")
    (run,) = demo.store.runs(limit=1, rule=HELD_RULE)
    assert run["status"] == "ok"
    assert run["counts"]["removed"] == 2
    assert demo.store.ledger_counts(HELD_RULE).get("present", 0) == members_before - 2
    actions = [a["action"] for a in demo.store.audit_entries(limit=10)]
    assert "approved" in actions


def test_edit_a_rule_with_a_mistake_then_save(demo: Demo, browser: Any, shots: Path) -> None:
    login(browser, demo, "adam", go="/c/demo/file")
    original = demo.config.read_text()
    lines = original.splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "mode: mirror" in line)
    broken = original.replace("mode: mirror", "mode: mirrror", 1)
    box = browser.find_element(By.ID, "text")
    browser.execute_script("arguments[0].value = arguments[1];", box, broken)
    submit(browser, "check")
    line = WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, f"L{bad_line}")))
    assert "bad" in line.get_attribute("class")
    assert "mirrror" in line.text
    assert "mirror" in line.find_element(By.CLASS_NAME, "problem").text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", line)
    shot(browser, shots, "edit-problem")

    submit(browser, "save")
    assert "Not saved" in text(browser, "not-saved")
    assert demo.config.read_text() == original

    fixed = original.replace("every: 5m", "every: 10m", 1)
    box = browser.find_element(By.ID, "text")
    browser.execute_script("arguments[0].value = arguments[1];", box, fixed)
    submit(browser, "save")
    diff = text(browser, "diff")
    assert "-    schedule: {every: 5m}" in diff
    assert "+    schedule: {every: 10m}" in diff
    assert demo.config.read_text() == fixed
    (kept,) = demo.store.file_versions(str(demo.config))[:1]
    assert kept["text"] == original
    assert kept["saved_by"] == "adam"
    assert "${CB_DEMO_HS_TOKEN}" in browser.find_element(By.ID, "text").get_attribute("value")
    shot(browser, shots, "edit-saved")


def test_an_operator_cannot_save_a_client_file(demo: Demo) -> None:
    before = demo.config.read_text()
    s = demo.session("olga")
    page = s.get(f"{demo.url}/c/demo/file").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    answer = s.post(f"{demo.url}/c/demo/file", data={"csrf": csrf, "text": "client: x\n", "action": "save"})
    assert answer.status_code == 403
    assert "needs the admin role" in answer.text
    assert demo.config.read_text() == before


def test_explain_a_person(demo: Demo, browser: Any, shots: Path) -> None:
    login(browser, demo, "vera", go="/explain")
    browser.find_element(By.ID, "email").send_keys("linus@initech.example")
    browser.find_element(By.ID, "explain").click()
    verdicts = WebDriverWait(browser, WAIT).until(
        ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".explain-rule .verdict"))
    )
    assert len(verdicts) == len(RULES)
    assert any(v.text.startswith("in sf:Pricing interest 2026") for v in verdicts)
    links = browser.find_elements(By.CSS_SELECTOR, ".record a")
    assert links
    assert all(a.get_attribute("href").startswith("https://") for a in links)
    shot(browser, shots, "explain")


def test_download_the_conflicts_csv(demo: Demo, browser: Any, shots: Path) -> None:
    login(browser, demo, "vera", go="/conflicts")
    shown = browser.find_elements(By.CSS_SELECTOR, "#conflicts tbody tr")
    expected = demo.store.conflicts_page(limit=1000)
    assert len(shown) == min(len(expected), 50) > 0
    shot(browser, shots, "conflicts")
    browser.find_element(By.ID, "csv").click()
    target = browser.downloads / "conflicts-demo.csv"
    deadline = time.monotonic() + WAIT
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert target.exists(), list(browser.downloads.iterdir())
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["rule"], r["kind"], r["email"]) for r in rows] == [
        (c["rule"], c["kind"], c["email"] or "") for c in expected
    ]


def test_the_admin_token_logs_in_as_admin(demo: Demo, browser: Any) -> None:
    login(browser, demo, token=TOKEN)
    assert text(browser, "who") == "admin-token (admin)"


@pytest.mark.parametrize("path", ["/audit"])
def test_the_audit_log_names_who_did_what(demo: Demo, browser: Any, path: str, shots: Path) -> None:
    login(browser, demo, "vera", go=path)
    audit = text(browser, "audit")
    assert "olga" in audit
    assert "approved" in audit
    assert "adam" in audit
    assert "edit_file" in audit
    shot(browser, shots, "audit")


def test_a_run_in_progress_shows_live_progress(demo: Demo, browser: Any) -> None:
    """The rule's page follows a run the console started, without a reload by the person."""
    rule = "clickers-to-crm"
    run = Activity("sync", "demo", rule, "olga", datetime.now(UTC))
    run.progress("read", 200, 1000)
    demo.console.activities[("demo", rule)] = run  # as Console.start records it, the work left out
    login(browser, demo, "vera", go=f"/c/demo/r/{rule}")
    assert text(browser, "stage") == "read"
    assert "200 / 1000" in text(browser, "activity")
    run.progress("apply", 700, 1000)
    WebDriverWait(browser, WAIT).until(lambda d: "700 / 1000" in d.find_element(By.ID, "activity").text)
    assert text(browser, "stage") == "apply"
    run.status, run.message, run.finished = "ok", "", datetime.now(UTC)
    assert text(browser, "activity-status") == "ok"  # the page reloaded itself when the run ended
