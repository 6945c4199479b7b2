"""The one place that reads the environment.

Everything configurable about JotPay is read here, once, into a frozen `Settings`
object. Nothing else in the app touches `os.environ` (the local stand-in in
`sandbox/` is a separate program with its own command-line options).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str
    public_base_url: str
    # Where the clinician's browser reaches the app (Stripe onboarding returns here).
    app_base_url: str
    backend_port: int
    frontend_port: int
    # Stripe: real keys switch to real Stripe; otherwise the local stand-in's base URL.
    stripe_secret_key: str
    stripe_api_base: str
    stripe_webhook_secret: str
    stripe_connect_webhook_secret: str
    # Twilio
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_api_base: str
    twilio_from_number: str
    # Set only when the local stand-in runs: the header then links to its outbox.
    sandbox_outbox_url: str
    # Payment policy (integer cents, days).
    max_request_cents: int
    default_due_days: int
    session_days: int
    scheduler_enabled: bool

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _default_database_url(data_dir: Path) -> str:
    # Absolute path: tests and `reflex run` start from other working directories.
    return f"sqlite:///{(data_dir / 'jotpay.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(_env("JOTPAY_DATA_DIR", str(PROJECT_ROOT / "data"))).resolve()
    backend_port = _env_int("JOTPAY_BACKEND_PORT", 8000)
    return Settings(
        data_dir=data_dir,
        database_url=_env("DATABASE_URL") or _default_database_url(data_dir),
        redis_url=_env("REDIS_URL"),
        public_base_url=(_env("PUBLIC_BASE_URL") or f"http://localhost:{backend_port}").rstrip("/"),
        app_base_url=(
            _env("APP_BASE_URL") or f"http://localhost:{_env_int('JOTPAY_FRONTEND_PORT', 3000)}"
        ).rstrip("/"),
        backend_port=backend_port,
        frontend_port=_env_int("JOTPAY_FRONTEND_PORT", 3000),
        stripe_secret_key=_env("STRIPE_SECRET_KEY"),
        stripe_api_base=_env("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/"),
        stripe_webhook_secret=_env("STRIPE_WEBHOOK_SECRET"),
        stripe_connect_webhook_secret=_env("STRIPE_CONNECT_WEBHOOK_SECRET"),
        twilio_account_sid=_env("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=_env("TWILIO_AUTH_TOKEN"),
        twilio_api_base=_env("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        twilio_from_number=_env("TWILIO_FROM_NUMBER", "+15005550006"),
        sandbox_outbox_url=_env("JOTPAY_SANDBOX_OUTBOX_URL"),
        max_request_cents=_env_int("JOTPAY_MAX_REQUEST_CENTS", 1_000_000),
        default_due_days=_env_int("JOTPAY_DEFAULT_DUE_DAYS", 7),
        session_days=_env_int("JOTPAY_SESSION_DAYS", 14),
        scheduler_enabled=_env("JOTPAY_SCHEDULER", "on").lower() not in {"0", "off", "false"},
    )
