"""Browser tests: the real app served on 127.0.0.1 by a real HTTP server, driven by Debian's
Chromium through Playwright (never a downloaded browser). Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.access import set_password
from engine.clock import ManualClock
from engine.config import Settings
from engine.motcua import Motcua
from engine.seed import load_seed
from tests.conftest import START
from web.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "mat-khau-trinh-duyet"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, Motcua, ManualClock]]:
    """(base URL, engine, clock) of a seeded demo served by a real HTTP server."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    home = tmp_path_factory.mktemp("browser-home")
    clock = ManualClock(START)
    m = Motcua(replace(Settings(), home=home), clock=clock, database_url=f"sqlite:///{home}/motcua.sqlite3")
    m.migrate()
    load_seed(m)
    m.deploy_processes()
    for username in ("motcua_anbinh", "chuyenvien_anbinh", "lanhdao_anbinh", "kiemtra"):
        set_password(m, username, PASSWORD)
    # Generous limits rather than disabling: the limiter object is shared by every app in the process.
    app = create_app(m, {"LOGIN_RATE_LIMIT": "1000 per minute", "PUBLIC_RATE_LIMIT": "1000 per minute"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", m, clock
    server.shutdown()
    m.db.dispose()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Shots:
    """Numbered screenshots of each page a scenario visits."""

    def __init__(self, name: str):
        self.dir = ARTIFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page, label: str) -> Path:  # type: ignore[no-untyped-def]
        self.count += 1
        path = self.dir / f"{self.count:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
