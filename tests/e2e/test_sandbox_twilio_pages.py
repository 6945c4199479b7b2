"""The sandbox phone outbox in Chromium: links in texts work, replies reach the app."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from twilio.request_validator import RequestValidator

from jotpay_app.services.twilio_http import build_twilio_client
from tests.sandbox_twilio_helpers import (
    ReceivedRequest,
    SandboxProcess,
    WebhookReceiver,
    wait_until,
)

CHROMIUM = "/usr/bin/chromium"
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
CLINIC_NUMBER = "+15005550006"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium"),
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[SandboxProcess]:
    data_dir = tmp_path_factory.mktemp("twilio-e2e") / "data"
    with SandboxProcess(data_dir, webhook_url=f"{receiver.base_url}/inbound") as running:
        yield running


# The browser is the shared session one (tests/e2e/conftest.py): one Playwright per run.
@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def patient_number() -> str:
    return f"+1555{2_000_000 + secrets.randbelow(8_000_000)}"


def test_outbox_shows_the_text_and_its_link_is_clickable(
    page: Page, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    patient = patient_number()
    pay_path = f"/pay/inv-{secrets.token_hex(4)}"
    pay_link = receiver.base_url + pay_path
    client = build_twilio_client(
        sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=5
    )
    message = client.messages.create(
        to=patient, from_=CLINIC_NUMBER, body=f"Dr Lee requests $40.00. Pay: {pay_link}."
    )

    page.goto(f"{sandbox.base_url}/sandbox/outbox")
    page.get_by_role("link", name=patient).click()
    expect(page.locator("#phone-number")).to_have_text(patient)
    text = page.locator(f"#message-list #message-{message.sid}")
    expect(text).to_contain_text("Dr Lee requests $40.00.")
    # The page refreshes itself while the status moves on.
    expect(text.locator(".status")).to_have_text("delivered", timeout=10_000)

    link = text.get_by_role("link", name=pay_link)
    expect(link).to_have_attribute("href", pay_link)  # the trailing "." is not part of it
    link.click()
    page.wait_for_url(pay_link)
    expect(page.locator("#landing")).to_have_text(f"Landed on {pay_path}")


def test_stop_typed_in_the_reply_box_reaches_the_webhook(
    page: Page, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    patient = patient_number()
    client = build_twilio_client(
        sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=5
    )
    client.messages.create(to=patient, from_=CLINIC_NUMBER, body="Please pay your invoice")

    page.goto(sandbox.outbox_url(patient))
    expect(page.locator("#opt-out-state")).to_have_attribute("data-opted-out", "false")
    page.get_by_label("Reply", exact=True).fill("STOP")
    page.get_by_role("button", name="Send reply").click()

    expect(page.locator("#opt-out-state")).to_have_attribute("data-opted-out", "true")
    expect(
        page.locator("#message-list .message").filter(has_text=re.compile(r"^STOP"))
    ).to_have_count(1)

    def stop_webhook() -> list[ReceivedRequest]:
        return [r for r in receiver.received("/inbound") if r.params.get("From") == patient]

    inbound = wait_until(stop_webhook, timeout=10)[0]
    assert inbound.params["Body"] == "STOP"
    assert inbound.params["To"] == CLINIC_NUMBER
    assert RequestValidator(sandbox.auth_token).validate(
        f"{receiver.base_url}/inbound", inbound.params, inbound.signature
    )
    page.reload()
    expect(page.locator("#message-list")).to_contain_text("webhook: 200")
