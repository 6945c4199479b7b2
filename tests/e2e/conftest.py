"""End-to-end fixtures: the real app with the local stand-in (see tests/apphost.py),
and the system Chromium driven by Playwright. Started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.apphost import ROOT, RunningApp, free_port, running_stack, wait_for

__all__ = ["ROOT", "RunningApp", "free_port", "log_in", "wait_for"]

CHROMIUM = os.environ.get("JOTPAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "jotpay-demo"


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    data_dir = tmp_path_factory.mktemp("app-data")
    with running_stack(data_dir, os.environ.get("TEST_REDIS_URL", "")) as app:
        yield app


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def fresh_app(running_app: RunningApp) -> RunningApp:
    """The running app with the demo data reloaded for this test."""
    running_app.reset_data()
    return running_app


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page: Page, app: RunningApp, email: str = "demo@jotpay.local") -> None:
    page.goto(f"{app.frontend_url}/login")
    page.fill("#login-email", email)
    page.fill("#login-password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/patients")
    page.wait_for_selector("#patient-table")
