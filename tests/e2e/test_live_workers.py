"""Live status across backend workers sharing Redis: the tab is connected to one worker,
Stripe's webhook reaches another, and the tab still shows the payment without a reload.
An idle tab receives nothing (no polling)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from jotpay_app.models import PaymentRequest, SmsMessage
from jotpay_app.services.db import make_engine
from tests.apphost import RunningApp, backend_worker
from tests.conftest import needs_service
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def second_worker(running_app: RunningApp) -> Iterator[str]:
    needs_service("TEST_REDIS_URL", "Redis multi-worker")
    with backend_worker(running_app.env, running_app.log_path.with_name("worker2.log")) as url:
        yield url


def signed(payload: str, secret: str) -> str:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def completed_event(request: PaymentRequest) -> str:
    return json.dumps(
        {
            "id": f"evt_live_{request.id}_{int(time.time() * 1000)}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"cs_test_live_{request.id}",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "status": "complete",
                    "amount_total": request.amount_cents,
                    "payment_intent": f"pi_live_{request.id}",
                    "expires_at": int(time.time()) + 3600,
                    "metadata": {"jotpay_request_id": str(request.id)},
                }
            },
        }
    )


def test_webhook_on_one_worker_updates_a_tab_on_another(
    page: Page, fresh_app: RunningApp, second_worker: str
) -> None:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    log_in(page, fresh_app, "demo2@jotpay.local")
    page.fill("#patient-search", "Nguyen")
    page.get_by_role("link", name="Jordan Nguyen").click()
    page.click("#request-payment")
    page.fill("#request-amount", "42")
    page.locator(".quick-reason", has_text="Copay").click()
    page.click("#send-request")
    expect(page.locator("#request-dialog")).to_have_count(0)
    row = page.locator("#patient-payments tbody tr").first
    expect(row).to_have_attribute("data-status", "sent")

    # Idle: nothing arrives while nothing changes (once the text's delivery callbacks,
    # which do change the request's history, have all landed).
    engine = make_engine(fresh_app.database_url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with Session(engine) as s:
            status = s.exec(select(SmsMessage.status).order_by(SmsMessage.id.desc())).first()
        if status == "delivered":
            break
        time.sleep(0.2)
    engine.dispose()
    page.wait_for_timeout(1000)
    before = len(frames)
    page.wait_for_timeout(3000)
    idle_events = [f for f in frames[before:] if '"delta"' in f or "event" in f]
    assert idle_events == []

    engine = make_engine(fresh_app.database_url)
    with Session(engine) as s:
        request = s.exec(select(PaymentRequest).order_by(PaymentRequest.id.desc())).first()
    engine.dispose()
    payload = completed_event(request)
    answer = httpx.post(
        f"{second_worker}/api/stripe/webhook",
        content=payload,
        headers={
            "Stripe-Signature": signed(payload, fresh_app.env["STRIPE_WEBHOOK_SECRET"]),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 200, answer.text
    assert re.search(r'"outcome":\s*"paid"', answer.text)
    expect(row).to_have_attribute("data-status", "paid", timeout=5_000)
