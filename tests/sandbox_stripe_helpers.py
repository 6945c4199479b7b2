"""Test helpers for the Stripe stand-in: run the real CLI, receive webhooks, fill its pages."""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import stripe

from tests.netutil import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS_CARD = "4000 0000 0000 9995"


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def signature(self) -> str:
        return self.headers.get("stripe-signature", "")


@dataclass
class _PlannedFailure:
    status: int
    remaining: int
    matches: Callable[[str], bool]


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST; can answer errors on demand."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self._failures: list[_PlannedFailure] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                status = receiver._record(
                    ReceivedWebhook(
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _record(self, request: ReceivedWebhook) -> int:
        with self._lock:
            self.received.append(request)
            for failure in self._failures:
                if failure.remaining > 0 and failure.matches(request.body):
                    failure.remaining -= 1
                    return failure.status
        return 200

    def fail_next(self, count: int, *, containing: str, status: int = 500) -> None:
        """Answer `status` to the next `count` deliveries whose body contains `containing`."""
        with self._lock:
            self._failures.append(_PlannedFailure(status, count, lambda body: containing in body))

    def stop_failing(self) -> None:
        with self._lock:
            self._failures.clear()

    def for_object(self, object_id: str, *, path: str | None = None) -> list[ReceivedWebhook]:
        """Deliveries whose event is about `object_id` (data.object.id), in arrival order."""
        with self._lock:
            return [
                hook
                for hook in self.received
                if (path is None or hook.path == path)
                and hook.event["data"]["object"].get("id") == object_id
            ]

    def wait_for(
        self, object_id: str, event_type: str, *, path: str | None = None, timeout: float = 10.0
    ) -> ReceivedWebhook:
        def probe() -> ReceivedWebhook | None:
            for hook in self.for_object(object_id, path=path):
                if hook.event["type"] == event_type:
                    return hook
            return None

        return wait_until(probe, timeout=timeout)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class StripeSandbox:
    """`python -m jotpay_app.sandbox` in a subprocess with its own data dir and port."""

    data_dir: Path
    webhook_url: str = ""
    connect_webhook_url: str = ""
    secret_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    connect_webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    retry_base_seconds: float = 0.2
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StripeSandbox:
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
            self.secret_key,
        ]
        if self.webhook_url:
            command += ["--webhook-url", self.webhook_url, "--webhook-secret", self.webhook_secret]
        if self.connect_webhook_url:
            command += [
                "--connect-webhook-url",
                self.connect_webhook_url,
                "--connect-webhook-secret",
                self.connect_webhook_secret,
            ]
        env = dict(os.environ)
        env["STRIPE_SANDBOX_WEBHOOK_RETRY_BASE"] = str(self.retry_base_seconds)
        env["STRIPE_SANDBOX_WEBHOOK_RETRY_CAP"] = "1"
        # A file, not a pipe: a pipe nobody reads would block the server once full.
        self.log_file = self.data_dir.parent / f"stripe-sandbox-{self.port}.log"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited early: {self.log_file.read_text()}")
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

    def __enter__(self) -> StripeSandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- SDK and control API ------------------------------------------------------------------
    def client(self, *, key: str | None = None, timeout: float = 10.0) -> stripe.StripeClient:
        return stripe.StripeClient(
            key or self.secret_key,
            base_addresses={"api": self.base_url, "connect": self.base_url, "files": self.base_url},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def set_fault(self, **spec: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.base_url}/sandbox/stripe/faults", json=spec)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.base_url}/sandbox/stripe/faults").raise_for_status()

    def now(self) -> int:
        return int(httpx.get(f"{self.base_url}/sandbox/stripe/clock").json()["now"])

    def advance_clock(self, seconds: int) -> int:
        response = httpx.post(
            f"{self.base_url}/sandbox/stripe/clock", json={"advance_seconds": seconds}
        )
        response.raise_for_status()
        return int(response.json()["now"])

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/sandbox/stripe/state").json()


# -- page helpers (what a browser would post) ---------------------------------------------------
def form_values(html: str) -> dict[str, str]:
    """Prefilled `<input name=... value=...>` pairs of a page's form."""
    values = dict(re.findall(r'name="([^"]+)"\s+value="([^"]*)"', html))
    if re.search(r'name="tos" value="accepted" checked', html):
        values["tos"] = "accepted"
    return values


def open_onboarding(link_url: str) -> httpx.Response:
    """Follow an account link to the onboarding form, as a browser does."""
    return httpx.get(link_url, follow_redirects=True)


def submit_onboarding(link_url: str, **changes: str) -> httpx.Response:
    page = open_onboarding(link_url)
    assert page.status_code == 200, page.text
    values = form_values(page.text) | changes
    return httpx.post(str(page.url), data=values)


def pay(
    session_url: str,
    card_number: str = GOOD_CARD,
    *,
    email: str = "patient@example.com",
    expiry: str = "12 / 34",
    cvc: str = "123",
    name: str = "Pat Patient",
    postal_code: str = "94103",
) -> httpx.Response:
    return httpx.post(
        session_url,
        data={
            "email": email,
            "cardNumber": card_number,
            "cardExpiry": expiry,
            "cardCvc": cvc,
            "billingName": name,
            "billingPostalCode": postal_code,
        },
    )
