"""live_update_ms: a Stripe webhook is received → the connected tab gets the new status.

Runs the real stack (stand-in + `reflex run --env prod`), a Chromium tab on a patient's
profile, and posts 20 signed `checkout.session.completed` webhooks, one per fresh
request, timing from the POST until the tab's websocket receives the delta with that
request paid. With Redis reachable (`TEST_REDIS_URL`/`BENCH_REDIS_URL`), the same with
two backend workers: tab on one, webhook to the other (`redis.live_update_ms`).

    python -m bench.live_bench
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright
from sqlmodel import Session, select

from jotpay_app.models import Clinician, Patient, PaymentRequest
from jotpay_app.services.db import make_engine
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown
from tests.apphost import RunningApp, backend_worker, running_stack

ROUNDS = 20
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


def new_sent_request(app: RunningApp) -> int:
    engine = make_engine(app.database_url)
    with Session(engine) as s:
        clinician = s.exec(select(Clinician).where(Clinician.email == "demo2@jotpay.local")).one()
        patient = s.exec(select(Patient).where(Patient.last_name == "Nguyen")).one()
        fees = breakdown(4200)
        request = PaymentRequest(
            practice_id=clinician.practice_id,
            clinician_id=clinician.id or 0,
            patient_id=patient.id or 0,
            invoice_number=take_invoice_number(s, clinician.practice_id),
            amount_cents=4200,
            fee_cents=fees.fee_cents,
            net_cents=fees.net_cents,
            reason="Copay",
            due_date=dt.date.today() + dt.timedelta(days=7),
            status="sent",
            pay_token=secrets.token_urlsafe(16),
            submit_key=uuid.uuid4().hex,
        )
        s.add(request)
        s.commit()
        request_id = request.id or 0
    engine.dispose()
    return request_id


def signed_event(request_id: int, secret: str) -> tuple[str, str]:
    payload = json.dumps(
        {
            "id": f"evt_bench_{request_id}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"cs_bench_{request_id}",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "status": "complete",
                    "amount_total": 4200,
                    "payment_intent": f"pi_bench_{request_id}",
                    "expires_at": int(time.time()) + 3600,
                    "metadata": {"jotpay_request_id": str(request_id)},
                }
            },
        }
    )
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={digest}"


def open_profile(page: Page, app: RunningApp) -> None:
    page.goto(f"{app.frontend_url}/login")
    page.fill("#login-email", "demo2@jotpay.local")
    page.fill("#login-password", "jotpay-demo")
    page.click("#login-submit")
    page.wait_for_selector("#patient-table")
    page.fill("#patient-search", "Nguyen")
    page.get_by_role("link", name="Jordan Nguyen").click()
    page.wait_for_selector("#patient-name")


def measure(app: RunningApp, webhook_base: str) -> list[float]:
    frames: list[tuple[float, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived", lambda f: frames.append((time.perf_counter(), str(f)))
            ),
        )
        open_profile(page, app)
        page.wait_for_timeout(1000)
        timings: list[float] = []
        for _ in range(ROUNDS):
            request_id = new_sent_request(app)
            payload, signature = signed_event(request_id, app.env["STRIPE_WEBHOOK_SECRET"])
            pattern = re.compile(rf'"id":\s*{request_id}\b[^}}]*"status":\s*"paid"')
            start = time.perf_counter()
            answer = httpx.post(
                f"{webhook_base}/api/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": signature},
            )
            answer.raise_for_status()
            deadline = start + 10
            arrived = None
            while arrived is None and time.perf_counter() < deadline:
                page.wait_for_timeout(5)  # lets Playwright deliver frame events
                arrived = next(
                    (t for t, text in frames if t >= start and pattern.search(text)), None
                )
            if arrived is None:
                raise RuntimeError(f"no live update for request {request_id} within 10 s")
            timings.append((arrived - start) * 1000)
        browser.close()
    return timings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with running_stack(Path(tmp)) as app:
            timings = measure(app, app.backend_url)
        print(f"live_update_ms={statistics.median(timings):.1f}")
        print(f"live_update_p90_ms={sorted(timings)[int(len(timings) * 0.9) - 1]:.1f}")
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        print("# redis.live_update_ms skipped: set TEST_REDIS_URL or BENCH_REDIS_URL")
        return
    with tempfile.TemporaryDirectory() as tmp:
        with (
            running_stack(Path(tmp), redis_url) as app,
            backend_worker(app.env, Path(tmp) / "worker2.log") as worker,
        ):
            timings = measure(app, worker)
        print(f"redis.live_update_ms={statistics.median(timings):.1f}")
        print(f"redis.live_update_p90_ms={sorted(timings)[int(len(timings) * 0.9) - 1]:.1f}")


if __name__ == "__main__":
    main()
