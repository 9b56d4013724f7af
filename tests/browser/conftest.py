"""Browser tests: a live server on loopback and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "build" / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class LiveServer(str):
    """The server's base URL, carrying the app for tests that set data up directly."""

    app = None


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, registry, engine):
    """The real app (real clock) on a free loopback port, with demo users signed in by password."""
    from argon2 import PasswordHasher
    from store.demo import DEMO_PASSWORD, ensure_demo_users
    from store.models import User
    from webui.app import create_app
    folder = tmp_path_factory.mktemp("browser")
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'browser.db'}", "SECRET_KEY": "browser-tests"})
    context = app.extensions["safeguarding"]
    context.service.registry, context.service.engine = registry, engine
    with app.app_context():
        context.db.connect(reuse_if_open=True)
        ensure_demo_users(context.service, password=None)
        User.update(password_hash=PasswordHasher().hash(DEMO_PASSWORD)).execute()
        context.db.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = LiveServer(f"http://127.0.0.1:{server.server_port}")
    url.app = app
    yield url
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def sign_in(page, base: str, username: str) -> None:
    """Sign in through the login page as a demo user."""
    from store.demo import DEMO_PASSWORD
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
