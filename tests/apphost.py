"""Starting the whole stack for browser tests and benchmarks: the local Stripe/Twilio
stand-in and the app (`reflex run --env prod`, frontend and backend on one port), on
free ports, with a seeded SQLite database in a throwaway folder."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlmodel import Session

from jotpay_app.sandbox.client import complete_onboarding
from jotpay_app.services.db import make_engine
from jotpay_app.services.migrations import upgrade_to_head
from jotpay_app.services.seed import reseed
from jotpay_app.services.seed_stripe import seed_connected_clinician
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.settings import get_settings
from tests.netutil import free_port

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
REFLEX = str(ROOT / ".venv" / "bin" / "reflex")


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


def stack_env(data_dir: Path, redis_url: str = "") -> dict[str, str]:
    port, sandbox = free_port(), free_port()
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        JOTPAY_DATA_DIR=str(data_dir),
        JOTPAY_FRONTEND_PORT=str(port),
        JOTPAY_BACKEND_PORT=str(port),
        PUBLIC_BASE_URL=f"http://localhost:{port}",
        APP_BASE_URL=f"http://localhost:{port}",
        JOTPAY_SCHEDULER="off",
        REFLEX_USE_SYSTEM_BUN="1",
        REFLEX_CHECK_LATEST_VERSION="0",
        REFLEX_TELEMETRY_ENABLED="false",
        PATH=f"{ROOT / '.venv' / 'bin'}:{ROOT / 'tools' / 'node_modules' / '.bin'}:{env['PATH']}",
        JOTPAY_SANDBOX_PORT=str(sandbox),
        STRIPE_SECRET_KEY="sk_test_e2e_" + secrets.token_hex(8),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        STRIPE_CONNECT_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        STRIPE_API_BASE=f"http://127.0.0.1:{sandbox}",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_API_BASE=f"http://127.0.0.1:{sandbox}",
        JOTPAY_SANDBOX_OUTBOX_URL=f"http://localhost:{sandbox}/sandbox/outbox",
        STRIPE_SANDBOX_WEBHOOK_RETRY_BASE="0.3",
    )
    if redis_url:
        # As in production: Reflex's state and the live-update registry in Redis.
        env["REDIS_URL"] = redis_url
    return env


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


@contextlib.contextmanager
def sandbox(env: dict[str, str]) -> Iterator[str]:
    """The local Stripe/Twilio stand-in, delivering webhooks to the app's backend."""
    port = env["JOTPAY_SANDBOX_PORT"]
    backend = f"http://127.0.0.1:{env['JOTPAY_BACKEND_PORT']}"
    data_dir = Path(env["JOTPAY_DATA_DIR"])
    args = [
        PYTHON,
        "-m",
        "jotpay_app.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--data",
        str(data_dir / "sandbox"),
        "--public-url",
        f"http://localhost:{port}",
        "--stripe-key",
        env["STRIPE_SECRET_KEY"],
        "--webhook-url",
        f"{backend}/api/stripe/webhook",
        "--webhook-secret",
        env["STRIPE_WEBHOOK_SECRET"],
        "--connect-webhook-url",
        f"{backend}/api/stripe/connect-webhook",
        "--connect-webhook-secret",
        env["STRIPE_CONNECT_WEBHOOK_SECRET"],
        "--twilio-sid",
        env["TWILIO_ACCOUNT_SID"],
        "--twilio-token",
        env["TWILIO_AUTH_TOKEN"],
        "--twilio-webhook-url",
        f"{backend}/api/twilio/inbound",
    ]
    with process(args, env, data_dir / "sandbox.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/sandbox/outbox", 30, proc)
        yield url


@contextlib.contextmanager
def backend_worker(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Another backend process of the same app (same database and Redis), no frontend."""
    port = free_port()
    worker_env = dict(env, JOTPAY_BACKEND_PORT=str(port))
    args = [REFLEX, "run", "--env", "prod", "--backend-only", "--backend-port", str(port)]
    with process(args, worker_env, log_path) as proc:
        wait_for(f"http://127.0.0.1:{port}/ping", 120, proc)
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def running_stack(data_dir: Path, redis_url: str = "") -> Iterator[RunningApp]:
    env = stack_env(data_dir, redis_url)
    database_url = f"sqlite:///{data_dir / 'jotpay.db'}"
    upgrade_to_head(database_url)
    port = env["JOTPAY_FRONTEND_PORT"]
    url = f"http://localhost:{port}"
    log_path = data_dir / "reflex.log"
    with sandbox(env) as sandbox_url:
        args = [REFLEX, "run", "--env", "prod", "--frontend-port", port, "--backend-port", port]
        with process(args, env, log_path) as proc:
            app = RunningApp(url, url, database_url, log_path, sandbox_url, env)
            try:
                app.reset_data()
                wait_for(f"{url}/ping", 240, proc)
                wait_for(f"{url}/login", 240, proc)
            except BaseException:
                print(log_path.read_text()[-4000:])
                raise
            yield app
