"""Fixtures for tests that run the app's HTTP API against the local Stripe/Twilio stand-in.

One stand-in process (`python -m jotpay_app.sandbox`) and one API server (uvicorn in a
thread, serving `jotpay_app.api.create_api()`) live for the whole session; the stand-in
sends its webhooks and status callbacks to that server. Each test gets its own database
(the `engine`/`pg_engine`/`sqlite_engine` fixtures); the API finds it through a holder
that the per-test fixture fills and empties.

Nothing here is autouse: the other tests in this folder do not start anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine

from jotpay_app import api as api_module
from jotpay_app import settings as settings_module
from jotpay_app.services import db as db_module
from jotpay_app.services.sms import SmsGateway
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.settings import Settings, get_settings
from tests.payment_world import World, build_world
from tests.sandbox_stripe_helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
OUR_NUMBER = "+15005550006"


# -- the stand-in -----------------------------------------------------------------------------
@dataclass
class Sandbox:
    data_dir: Path
    api_base: str
    port: int = field(default_factory=free_port)
    stripe_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    connect_webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    twilio_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    twilio_token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Sandbox:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "jotpay_app.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            "--stripe-key",
            self.stripe_key,
            "--webhook-url",
            f"{self.api_base}/api/stripe/webhook",
            "--webhook-secret",
            self.webhook_secret,
            "--connect-webhook-url",
            f"{self.api_base}/api/stripe/connect-webhook",
            "--connect-webhook-secret",
            self.connect_webhook_secret,
            "--twilio-sid",
            self.twilio_sid,
            "--twilio-token",
            self.twilio_token,
            "--twilio-webhook-url",
            f"{self.api_base}/api/twilio/inbound",
        ]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "STRIPE_SANDBOX_WEBHOOK_RETRY_BASE": "0.2",
            "STRIPE_SANDBOX_WEBHOOK_RETRY_CAP": "1",
        }
        log_path = self.data_dir.parent / f"sandbox-{self.port}.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited early:\n{log_path.read_text()}")
            try:
                return httpx.get(f"{self.base_url}/sandbox/stripe/state", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=20)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    # control API
    def stripe_fault(self, **spec: Any) -> None:
        httpx.post(f"{self.base_url}/sandbox/stripe/faults", json=spec).raise_for_status()

    def twilio_fault(self, **spec: Any) -> None:
        httpx.post(f"{self.base_url}/sandbox/twilio/faults", json=spec).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.base_url}/sandbox/stripe/faults").raise_for_status()
        httpx.delete(f"{self.base_url}/sandbox/twilio/faults").raise_for_status()

    def stripe_state(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/sandbox/stripe/state", timeout=5).json()

    def twilio_dump(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/sandbox/twilio/messages.json", timeout=5).json()

    def texts_containing(self, needle: str) -> list[dict[str, Any]]:
        """Outgoing texts whose body contains `needle` (e.g. a pay token)."""
        return [
            m
            for m in self.twilio_dump()["messages"]
            if m["direction"].startswith("outbound") and needle in m["body"]
        ]

    def reply_as_patient(self, patient: str, body: str) -> httpx.Response:
        """The outbox reply form, as the patient's phone would answer."""
        from urllib.parse import quote

        return httpx.post(
            f"{self.base_url}/sandbox/outbox/{quote(patient, safe='')}/reply",
            data={"Body": body, "To": OUR_NUMBER},
            timeout=5,
        )

    def wait_webhooks_idle(self, timeout: float = 5.0) -> None:
        """Until the stand-in has no Stripe webhook delivery waiting or being retried."""
        wait_until(lambda: not self.stripe_state()["pending_deliveries"], timeout=timeout)

    def deliveries_of(self, event_type: str) -> list[dict[str, Any]]:
        return [
            d for d in self.stripe_state()["recent_deliveries"] if d["event_type"] == event_type
        ]


# -- the app's API server ---------------------------------------------------------------------
class ApiServer:
    def __init__(self) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            api_module.create_api(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="jotpay-api")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Current:
    """What the session-wide API server uses for the test running now."""

    engine: Engine | None = None
    settings: Settings | None = None

    def get_engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("no test is using the API server right now")
        return self.engine

    def get_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("no test is using the API server right now")
        return self.settings


@pytest.fixture(scope="session")
def api_server() -> Iterator[ApiServer]:
    server = ApiServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory, api_server: ApiServer) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path_factory.mktemp("sandbox") / "data", api_base=api_server.base_url)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def current() -> Current:
    return Current()


@dataclass
class AppEnv:
    """Everything a test needs to act as the app does, bound to the sandbox."""

    sandbox: Sandbox
    api: str
    current: Current
    settings: Settings
    stripe: StripeGateway
    sms: SmsGateway
    http: httpx.Client
    _worlds: Callable[..., World]

    def use(self, engine: Engine) -> None:
        """Point the API server (and the app's own lookups) at this database."""
        self.current.engine = engine
        self.settings = dataclasses.replace(self.settings, database_url=str(engine.url))
        self.current.settings = self.settings

    def world(self, engine: Engine, **options: Any) -> World:
        self.use(engine)
        return self._worlds(engine, **options)

    def sms_with_timeout(self, timeout: float) -> SmsGateway:
        return SmsGateway.from_settings(self.settings, timeout=timeout)


def _settings_for(sandbox: Sandbox, api_base: str) -> Settings:
    return dataclasses.replace(
        get_settings(),
        public_base_url=api_base,
        app_base_url="http://127.0.0.1:9",
        stripe_secret_key=sandbox.stripe_key,
        stripe_api_base=sandbox.base_url,
        stripe_webhook_secret=sandbox.webhook_secret,
        stripe_connect_webhook_secret=sandbox.connect_webhook_secret,
        twilio_account_sid=sandbox.twilio_sid,
        twilio_auth_token=sandbox.twilio_token,
        twilio_api_base=sandbox.base_url,
        twilio_from_number=OUR_NUMBER,
        sandbox_outbox_url=f"{sandbox.base_url}/sandbox/outbox",
        max_request_cents=1_000_000,
    )


@pytest.fixture
def app_env(
    sandbox: Sandbox,
    api_server: ApiServer,
    current: Current,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AppEnv]:
    sandbox.clear_faults()
    settings = _settings_for(sandbox, api_server.base_url)
    current.settings = settings
    # The API module and the app's own helpers read these at request time.
    monkeypatch.setattr(api_module, "get_settings", current.get_settings)
    monkeypatch.setattr(api_module, "get_engine", current.get_engine)
    monkeypatch.setattr(db_module, "get_engine", current.get_engine)
    monkeypatch.setattr(settings_module, "get_settings", current.get_settings)
    stripe = StripeGateway.from_settings(settings, timeout=10)

    def worlds(engine: Engine, *, connected: bool = True, **options: Any) -> World:
        world = build_world(engine, stripe if connected else None, **options)
        # Onboarding emitted account.updated: let it land before the test starts.
        sandbox.wait_webhooks_idle()
        return world

    with httpx.Client(timeout=10, follow_redirects=False) as http:
        env = AppEnv(
            sandbox=sandbox,
            api=api_server.base_url,
            current=current,
            settings=settings,
            stripe=stripe,
            sms=SmsGateway.from_settings(settings, timeout=2),
            http=http,
            _worlds=worlds,
        )
        yield env
    sandbox.clear_faults()
    # Let webhooks this test caused land in this test's database, not the next one's.
    with contextlib.suppress(AssertionError):
        sandbox.wait_webhooks_idle(timeout=3)
    current.engine = None
    current.settings = None


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Engine:
    """PostgreSQL when TEST_DATABASE_URL is set (row locks are real there), else SQLite."""
    if os.environ.get("TEST_DATABASE_URL"):
        return request.getfixturevalue("pg_engine")
    return request.getfixturevalue("sqlite_engine")


@pytest.fixture
def world(app_env: AppEnv, db: Engine) -> World:
    return app_env.world(db)
