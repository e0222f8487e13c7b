"""The console over the demo's state, served by uvicorn, and a real headless Chromium driving it.

``demo`` runs ``campaign-bridge demo``'s company once per module (its sandboxes stay up, so runs started
from the console reach them), adds one console user per role, and serves the console on a free loopback
port. ``browser`` is one headless Chromium per module (Debian's ``chromium`` and ``chromium-driver``,
the driver's path given so Selenium Manager never looks for one on the network). Without them the browser
tests are skipped, unless ``CB_REQUIRE_BROWSER=1`` (``scripts/test.sh`` sets it): then they fail.

``CB_CONSOLE_SHOTS=DIR`` keeps the screenshots the tests take in DIR (docs/console/ is made so).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from campaign_bridge.cli.console import FileSchedules
from campaign_bridge.config.loader import load_config
from campaign_bridge.console.app import console_app
from campaign_bridge.console.auth import AuthSettings, hash_password
from campaign_bridge.console.state import Console
from campaign_bridge.demo import CONFIG_NAME, run_demo, write_client_files
from campaign_bridge.sandbox.fleet import Sandboxes
from campaign_bridge.service.http import HttpServer
from campaign_bridge.sync.store.store import Store
from tests.sync.world import World

CHROMIUM = Path(os.environ.get("CB_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CB_CHROMEDRIVER", "/usr/bin/chromedriver"))
TOKEN = "console-test-token-0123456789"
#: One user per role; the password is the same for all (it is a test).
PASSWORD = "correct horse battery"
USERS = {"vera": "viewer", "olga": "operator", "adam": "admin"}


@dataclass
class Demo:
    folder: Path
    config: Path
    console: Console
    url: str
    sandboxes: Sandboxes

    @property
    def store(self) -> Store:
        return self.console.client("demo").store

    def load(self) -> Any:
        return load_config(self.config)

    def session(self, user: str | None) -> requests.Session:
        """A requests session logged in as ``user`` (None: not logged in)."""
        s = requests.Session()
        s.trust_env = False
        if user is not None:
            answer = s.post(f"{self.url}/login", data={"name": user, "password": PASSWORD}, allow_redirects=False)
            assert answer.status_code == 303, answer.text
        return s


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("console-demo")
    run_demo(folder)
    saved = dict(os.environ)
    sandboxes = Sandboxes(folder).start()
    console: Console | None = None
    server: HttpServer | None = None
    try:
        config, environ = write_client_files(folder, sandboxes)
        os.environ.update(environ)
        console = Console([str(config)])
        console.scheduling = FileSchedules(console)
        now = datetime.now(UTC)
        for name, role in USERS.items():
            console.store.put_user(name, hash_password(PASSWORD), role, now)
        server = HttpServer(console_app(console, AuthSettings(token=TOKEN)), "127.0.0.1", 0)
        server.start()
        yield Demo(folder, folder / CONFIG_NAME, console, server.url, sandboxes)
    finally:
        if server is not None:
            server.stop()
        if console is not None:
            console.close()
        sandboxes.stop()
        os.environ.clear()
        os.environ.update(saved)


def _unavailable(reason: str) -> None:
    if os.environ.get("CB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CB_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (one per module), 1280×900, downloads going to ``browser.downloads``."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(f"no {CHROMIUM} or {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)")
    profile = Path(tempfile.mkdtemp(prefix="cb-chromium-"))
    downloads = profile / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile / 'profile'}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``CB_CONSOLE_SHOTS`` when set, else a temporary folder."""
    given = os.environ.get("CB_CONSOLE_SHOTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The sync tests' world (in-memory CRM and MA, a SQLite store) for the guard's approval tests."""
    w = World(tmp_path)
    yield w
    w.close()
