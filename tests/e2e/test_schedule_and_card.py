"""Request Payment from an appointment and from the action card after a note; the
status then changes live on the open page when the patient pays."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from jotpay_app.models import Appointment, Note, Patient, SmsMessage
from jotpay_app.services.db import make_engine
from tests.e2e.conftest import RunningApp, log_in

pytestmark = pytest.mark.e2e


def latest_pay_link(app: RunningApp) -> str:
    engine = make_engine(app.database_url)
    with Session(engine) as s:
        body = s.exec(select(SmsMessage.body).order_by(SmsMessage.id.desc())).first() or ""
    engine.dispose()
    match = re.search(r"https?://\S+/pay/[A-Za-z0-9_-]+", body)
    assert match, body
    return match.group(0)


def pay_in_another_tab(browser: Browser, link: str, card: str = "4242 4242 4242 4242") -> None:
    """The patient, on their own phone: a separate browser context."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.set_default_timeout(20_000)
    phone.goto(link)
    phone.wait_for_url(re.compile(r".*/sandbox/checkout/.*"))
    phone.fill("#email", "patient@example.com")
    phone.fill("#cardNumber", card)
    phone.fill("#cardExpiry", "12 / 34")
    phone.fill("#cardCvc", "123")
    phone.fill("#billingName", "A Patient")
    phone.fill("#billingPostalCode", "02139")
    phone.click("#submitButton")
    if card.startswith("4242"):
        phone.wait_for_url(re.compile(r".*/thanks.*"))
    context.close()


def fill_mobile_if_asked(page: Page, prefix: str) -> None:
    mobile = page.locator(f"#{prefix}-mobile")
    if mobile.count() and mobile.is_visible():
        mobile.fill("(617) 555-0123")
        page.click(f"#{prefix}-consent")
        page.click(f"#{prefix}-consent-method")
        page.get_by_role("option", name="Verbally, in session").click()


def test_request_from_appointment_updates_live(
    page: Page, browser: Browser, fresh_app: RunningApp
) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    page.click("#nav-schedule")
    block = page.locator(".appointment-block[data-status='scheduled']").first
    if block.count() == 0:
        page.click("#calendar-next")
    block = page.locator(".appointment-block[data-status='scheduled']").first
    block.click()
    expect(page.locator("#session-details")).to_be_visible()
    fee = page.locator("#details-fee").inner_text()
    page.click("#details-request-payment")

    # The same form, prefilled from the session type's fee.
    expect(page.locator("#request-dialog")).to_be_visible()
    expect(page.locator("#request-amount")).to_have_value(fee.removeprefix("$").replace(",", ""))
    expect(page.locator("#request-reason")).to_have_value("Session fee")
    fill_mobile_if_asked(page, "request")
    page.click("#send-request")
    expect(page.locator("#request-dialog")).to_have_count(0)

    block.click()
    status = page.locator("#details-request-status")
    expect(status).to_have_attribute("data-status", "sent")
    # One open request per appointment: the button now opens the existing one.
    expect(page.locator("#details-request-payment")).to_have_count(0)
    expect(page.locator("#details-view-request")).to_be_visible()

    pay_in_another_tab(browser, latest_pay_link(fresh_app))
    # No reload: the webhook's change is pushed to this open dialog.
    expect(status).to_have_attribute("data-status", "paid", timeout=10_000)
    expect(status).to_contain_text("Paid")


def test_action_card_one_tap_then_paid_live(
    page: Page, browser: Browser, fresh_app: RunningApp
) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    page.click("#nav-notes")
    options = page.locator("#note-appointment option:not([value=''])")
    expect(options.first).to_be_attached()
    value = next(
        o.get_attribute("value")
        for o in options.all()
        if "(has a note)" not in (o.inner_text() or "")
    )
    page.select_option("#note-appointment", value)
    page.fill("#note-subjective", "Feeling more settled.")
    page.fill("#note-plan", "Continue weekly.")
    page.click("#generate-note")

    card = page.locator("#payment-action-card")
    expect(card).to_be_visible()
    expect(page.locator("#action-card-title")).to_have_text(
        "Request Payment from Patient / Client?"
    )
    expect(page.locator("#card-reason")).to_have_text("Session fee")
    fill_mobile_if_asked(page, "card")
    submit = page.get_by_role("button", name="Submit payment request")
    expect(submit).to_be_enabled()
    submit.click()
    status = page.locator("#card-status")
    expect(status).to_have_attribute("data-status", "sent")

    pay_in_another_tab(browser, latest_pay_link(fresh_app))
    expect(status).to_have_attribute("data-status", "paid", timeout=10_000)


def test_action_card_for_patient_without_number(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    page.click("#nav-notes")
    options = page.locator("#note-appointment option:not([value=''])")
    expect(options.first).to_be_attached()
    value = next(
        o.get_attribute("value")
        for o in options.all()
        if "(has a note)" not in (o.inner_text() or "")
    )
    # Make this session's patient one without a mobile number.
    engine = make_engine(fresh_app.database_url)
    with Session(engine) as s:
        appointment = s.get(Appointment, int(value or 0))
        patient = s.get(Patient, appointment.patient_id)
        patient.mobile_e164 = ""
        s.add(patient)
        s.commit()
    engine.dispose()

    page.select_option("#note-appointment", value)
    page.fill("#note-subjective", "Checked in.")
    page.fill("#note-plan", "Follow up.")
    page.click("#generate-note")
    submit = page.get_by_role("button", name="Submit payment request")
    expect(submit).to_be_disabled()
    page.fill("#card-mobile", "(617) 555-0177")
    expect(submit).to_be_disabled()  # consent still missing
    page.click("#card-consent")
    page.click("#card-consent-method")
    page.get_by_role("option", name="Verbally, in session").click()
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator("#card-status")).to_have_attribute("data-status", "sent")


def generate_note_for_first_free_session(page: Page) -> None:
    page.click("#nav-notes")
    options = page.locator("#note-appointment option:not([value=''])")
    expect(options.first).to_be_attached()
    value = next(
        o.get_attribute("value")
        for o in options.all()
        if "(has a note)" not in (o.inner_text() or "")
    )
    page.select_option("#note-appointment", value)
    page.fill("#note-subjective", "Doing well.")
    page.fill("#note-plan", "Review in two weeks.")
    page.click("#generate-note")
    expect(page.locator("#payment-action-card")).to_be_visible()


def test_card_before_stripe_setup_sends_after_onboarding(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app)  # demo@: Stripe not connected yet
    generate_note_for_first_free_session(page)
    fill_mobile_if_asked(page, "card")
    page.get_by_role("button", name="Submit payment request").click()
    # Kept as awaiting_setup, then onboarding...
    page.wait_for_url(re.compile(r".*/sandbox/connect/onboarding/.*"))
    page.click("#submit")
    # ...and back on the same card, the request has gone out.
    page.wait_for_url(re.compile(r".*/notes\?note=\d+"))
    expect(page.locator("#card-status")).to_have_attribute("data-status", "sent")


def test_unfinished_onboarding_explains_and_offers_to_continue(
    page: Page, fresh_app: RunningApp
) -> None:
    log_in(page, fresh_app)
    page.fill("#patient-search", "Bennett")
    page.get_by_role("link", name="Avery Bennett").click()
    page.click("#request-payment")
    page.wait_for_url(re.compile(r".*/sandbox/connect/onboarding/.*"))
    page.click("#saveAndExit")
    page.wait_for_url(re.compile(r".*/stripe/return.*"))
    expect(page.locator("#stripe-missing")).not_to_be_empty()
    page.click("#continue-setup")
    page.wait_for_url(re.compile(r".*/sandbox/connect/onboarding/.*"))
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/patients/\d+\?request=open"))
    expect(page.locator("#request-dialog")).to_be_visible()


def test_dismissed_card_does_not_come_back(page: Page, fresh_app: RunningApp) -> None:
    log_in(page, fresh_app, "demo2@jotpay.local")
    generate_note_for_first_free_session(page)
    page.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#payment-action-card")).to_have_count(0)
    engine = make_engine(fresh_app.database_url)
    with Session(engine) as s:
        note_id = s.exec(select(Note.id).order_by(Note.id.desc())).first()
    engine.dispose()
    page.goto(f"{fresh_app.frontend_url}/notes?note={note_id}")
    expect(page.locator("#note-appointment")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.locator("#payment-action-card")).to_have_count(0)
