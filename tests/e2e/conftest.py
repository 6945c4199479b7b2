"""End-to-end fixtures: the real app (`reflex run`) on free ports with a seeded database,
and the system Chromium driven by Playwright. Started once per test session."""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlmodel import Session

from jotpay_app.sandbox.client import complete_onboarding
from jotpay_app.services.db import make_engine
from jotpay_app.services.migrations import upgrade_to_head
from jotpay_app.services.seed import reseed
from jotpay_app.services.seed_stripe import seed_connected_clinician
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout}s ({last})")


@dataclass
class RunningApp:
    frontend_url: str
    backend_url: str
    database_url: str
    log_path: Path
    sandbox_url: str
    env: dict[str, str]

    def reset_data(self) -> None:
        """Demo data again, and demo2 connected in the stand-in (as `make run` does)."""
        engine = make_engine(self.database_url)
        with Session(engine) as s:
            reseed(s)
            s.commit()
        settings = dataclasses.replace(
            get_settings(),
            stripe_secret_key=self.env["STRIPE_SECRET_KEY"],
            stripe_api_base=self.sandbox_url,
        )
        seed_connected_clinician(
            engine,
            StripeGateway.from_settings(settings),
            complete_onboarding=complete_onboarding,
            app_base_url=self.frontend_url,
        )
        engine.dispose()
        httpx.delete(f"{self.sandbox_url}/sandbox/stripe/faults")
        httpx.delete(f"{self.sandbox_url}/sandbox/twilio/faults")

    def outbox(self, number: str) -> str:
        return f"{self.sandbox_url}/sandbox/outbox/{number.replace('+', '%2B')}"


@pytest.fixture(scope="session")
def app_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("app-data")
    # In prod mode Reflex serves the compiled frontend and the backend on one port.
    port = free_port()
    frontend = backend = port
    env = dict(os.environ)
    env.update(
        JOTPAY_DATA_DIR=str(data_dir),
        JOTPAY_FRONTEND_PORT=str(frontend),
        JOTPAY_BACKEND_PORT=str(backend),
        PUBLIC_BASE_URL=f"http://localhost:{backend}",
        JOTPAY_SCHEDULER="off",
        REFLEX_USE_SYSTEM_BUN="1",
        REFLEX_CHECK_LATEST_VERSION="0",
        REFLEX_TELEMETRY_ENABLED="false",
        PATH=f"{ROOT / '.venv' / 'bin'}:{ROOT / 'tools' / 'node_modules' / '.bin'}:{env['PATH']}",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if os.environ.get("TEST_REDIS_URL"):
        # As in production: Reflex's state and the live-update registry in Redis.
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    sandbox = free_port()
    env.update(
        JOTPAY_SANDBOX_PORT=str(sandbox),
        STRIPE_SECRET_KEY="sk_test_e2e_" + secrets.token_hex(8),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        STRIPE_CONNECT_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        STRIPE_API_BASE=f"http://127.0.0.1:{sandbox}",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_API_BASE=f"http://127.0.0.1:{sandbox}",
        JOTPAY_SANDBOX_OUTBOX_URL=f"http://localhost:{sandbox}/sandbox/outbox",
        APP_BASE_URL=f"http://localhost:{port}",
        STRIPE_SANDBOX_WEBHOOK_RETRY_BASE="0.3",
    )
    return env


@pytest.fixture(scope="session")
def sandbox_process(app_env: dict[str, str]) -> Iterator[str]:
    """The local Stripe/Twilio stand-in, delivering webhooks to the app under test."""
    port = app_env["JOTPAY_SANDBOX_PORT"]
    backend = f"http://127.0.0.1:{app_env['JOTPAY_BACKEND_PORT']}"
    data_dir = Path(app_env["JOTPAY_DATA_DIR"]) / "sandbox"
    log = open(data_dir.parent / "sandbox.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "jotpay_app.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--data",
            str(data_dir),
            "--public-url",
            f"http://localhost:{port}",
            "--stripe-key",
            app_env["STRIPE_SECRET_KEY"],
            "--webhook-url",
            f"{backend}/api/stripe/webhook",
            "--webhook-secret",
            app_env["STRIPE_WEBHOOK_SECRET"],
            "--connect-webhook-url",
            f"{backend}/api/stripe/connect-webhook",
            "--connect-webhook-secret",
            app_env["STRIPE_CONNECT_WEBHOOK_SECRET"],
            "--twilio-sid",
            app_env["TWILIO_ACCOUNT_SID"],
            "--twilio-token",
            app_env["TWILIO_AUTH_TOKEN"],
            "--twilio-webhook-url",
            f"{backend}/api/twilio/inbound",
        ],
        cwd=ROOT,
        env=app_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/sandbox/outbox", 30, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def running_app(app_env: dict[str, str], sandbox_process: str) -> Iterator[RunningApp]:
    data_dir = Path(app_env["JOTPAY_DATA_DIR"])
    database_url = f"sqlite:///{data_dir / 'jotpay.db'}"
    upgrade_to_head(database_url)
    frontend = f"http://localhost:{app_env['JOTPAY_FRONTEND_PORT']}"
    backend = f"http://localhost:{app_env['JOTPAY_BACKEND_PORT']}"
    log_path = data_dir / "reflex.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "reflex"),
                "run",
                "--env",
                "prod",
                "--frontend-port",
                app_env["JOTPAY_FRONTEND_PORT"],  # same as backend
                "--backend-port",
                app_env["JOTPAY_BACKEND_PORT"],
            ],
            cwd=ROOT,
            env=app_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = RunningApp(frontend, backend, database_url, log_path, sandbox_process, app_env)
    try:
        app.reset_data()
        wait_for(f"{backend}/ping", 240, proc)
        wait_for(f"{frontend}/login", 240, proc)
        yield app
    except BaseException:
        print(log_path.read_text()[-4000:])
        raise
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


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
