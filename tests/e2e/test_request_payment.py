"""Request Payment from a patient's profile, as a clinician and a patient would do it:
Stripe onboarding the first time, the text in the phone outbox, paying on the card
page, and the profile showing the result."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningApp, log_in

pytestmark = pytest.mark.e2e


def go_to_patients(page: Page, app: RunningApp) -> None:
    page.goto(f"{app.frontend_url}/patients")
    expect(page.locator("#patient-table")).to_be_visible()


def open_profile(page: Page, name: str) -> None:
    page.fill("#patient-search", name.split()[-1])
    page.get_by_role("link", name=name).click()
    expect(page.locator("#patient-name")).to_have_text(name)


def fill_card(page: Page, number: str) -> None:
    page.fill("#email", "patient@example.com")
    page.fill("#cardNumber", number)
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.fill("#billingName", "A Patient")
    page.fill("#billingPostalCode", "02139")
    page.click("#submitButton")


def pay_latest_text(page: Page, app: RunningApp, number: str, card: str) -> None:
    page.goto(app.outbox(number))
    message = page.locator("#message-list a").first
    expect(message).to_have_attribute("href", re.compile(r"/pay/[A-Za-z0-9_-]{22,}$"))
    # The outbox refreshes its list every 2 s; following the href is what a tap does.
    page.goto(message.get_attribute("href") or "")
    page.wait_for_url(re.compile(r".*/sandbox/checkout/.*"))
    fill_card(page, card)


def test_first_request_onboards_then_patient_pays(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app)  # demo@ has not connected Stripe yet
    open_profile(page, "Avery Bennett")
    page.click("#request-payment")

    # First time: Stripe Connect onboarding (the local stand-in's hosted page).
    page.wait_for_url(re.compile(r".*/sandbox/connect/onboarding/.*"))
    page.click("#submit")
    # Back in the app, the form opens for the same patient.
    page.wait_for_url(re.compile(r".*/patients/\d+\?request=open"))
    expect(page.locator("#request-dialog")).to_be_visible()

    page.fill("#request-amount", "0.25")
    page.click("#send-request")
    expect(page.locator("#request-amount-error")).to_have_text("The minimum is $0.50.")
    page.fill("#request-amount", "12.345")
    page.click("#send-request")
    expect(page.locator("#request-amount-error")).to_have_text("Use at most 2 decimals (cents).")
    page.fill("#request-amount", "50")
    expect(page.locator("#request-fee")).to_have_text("Processing fee $1.75 · you receive $48.25")
    page.locator(".quick-reason", has_text="Copay").click()
    page.click("#send-request")
    expect(page.locator("#request-dialog")).to_have_count(0)
    row = page.locator("#patient-payments tbody tr").first
    expect(row).to_contain_text("$50.00")
    expect(row.locator(".payment-status")).to_contain_text("Sent")

    # The patient's phone: the text, its link, the card page.
    pay_latest_text(page, fresh_app, "+16175551000", "4242 4242 4242 4242")
    page.wait_for_url(re.compile(r".*/pay/.*/thanks.*"))
    expect(page.locator("#thanks")).to_contain_text("payment received")
    expect(page.locator("#receipt-amount")).to_have_text("$50.00")

    # Later requests skip onboarding: the form opens directly.
    go_to_patients(page, fresh_app)
    open_profile(page, "Avery Bennett")
    expect(
        page.locator("#patient-payments tbody tr").first.locator(".payment-status")
    ).to_contain_text("Paid")
    page.click("#request-payment")
    expect(page.locator("#request-dialog")).to_be_visible()


def test_declined_card_shows_payment_failed(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")  # already connected
    open_profile(page, "Jordan Nguyen")
    page.click("#request-payment")
    page.fill("#request-amount", "80")
    page.locator(".quick-reason", has_text="Session fee").click()
    page.click("#send-request")
    expect(page.locator("#request-dialog")).to_have_count(0)

    pay_latest_text(page, fresh_app, "+16175551037", "4000 0000 0000 0002")
    expect(page.get_by_text("Your card was declined.")).to_be_visible()

    go_to_patients(page, fresh_app)
    open_profile(page, "Jordan Nguyen")
    status = page.locator("#patient-payments tbody tr").first.locator(".payment-status")
    expect(status).to_contain_text("Payment failed")
    expect(status).to_contain_text("Your card was declined.")


def test_patient_without_mobile_gets_it_saved(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    open_profile(page, "Morgan Garcia")  # no mobile number in the demo data
    page.click("#request-payment")
    page.fill("#request-amount", "25")
    page.fill("#request-reason", "No-show fee")
    page.click("#send-request")
    expect(page.locator("#request-mobile-error")).to_have_text("Enter a mobile number.")
    expect(page.locator("#request-consent-error")).to_have_text(
        "Confirm that the patient agreed to receive payment texts."
    )
    page.fill("#request-mobile", "(617) 555-0199")
    page.click("#request-consent")
    page.click("#request-consent-method")
    page.get_by_role("option", name="Verbally, in session").click()
    page.click("#send-request")
    expect(page.locator("#request-dialog")).to_have_count(0)
    expect(page.locator("#patient-mobile")).to_have_text("(617) 555-0199")
    expect(page.locator("#patient-payments tbody tr").first).to_contain_text("$25.00")
