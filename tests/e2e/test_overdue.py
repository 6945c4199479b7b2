"""A request whose due date passed becomes Overdue, and its reminder reaches the
patient's phone (the stand-in's outbox). The scheduler's timer is off in e2e tests:
the job is called directly, at a fixed daytime moment so quiet hours do not apply."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from jotpay_app.models import Clinician, Patient, PaymentRequest
from jotpay_app.services.db import make_engine
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown
from jotpay_app.services.reminders import sweep
from jotpay_app.services.sms import SmsGateway
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.services.timefmt import local_to_utc
from jotpay_app.settings import get_settings
from tests.e2e.conftest import RunningApp, log_in

pytestmark = pytest.mark.e2e
TZ = "America/New_York"


def test_overdue_request_is_marked_and_reminded(page: Page, fresh_app: RunningApp) -> None:
    now = local_to_utc(dt.datetime.combine(dt.date.today(), dt.time(14, 0)), TZ)
    engine = make_engine(fresh_app.database_url)
    with Session(engine) as s:
        clinician = s.exec(select(Clinician).where(Clinician.email == "demo2@jotpay.local")).one()
        # A patient with no other request: the daily cap would hold a second reminder back.
        requested = select(PaymentRequest.patient_id)
        patient = s.exec(
            select(Patient).where(
                Patient.practice_id == clinician.practice_id,
                Patient.mobile_e164 != "",
                Patient.id.not_in(requested),
            )
        ).first()
        fees = breakdown(9900)
        request = PaymentRequest(
            practice_id=clinician.practice_id,
            clinician_id=clinician.id,
            patient_id=patient.id,
            invoice_number=take_invoice_number(s, clinician.practice_id),
            amount_cents=9900,
            fee_cents=fees.fee_cents,
            net_cents=fees.net_cents,
            reason="Copay",
            status="sent",
            due_date=dt.date.today() - dt.timedelta(days=2),
            pay_token=secrets.token_urlsafe(16),
            submit_key=uuid.uuid4().hex,
            created_at=now - dt.timedelta(days=9),
            sent_at=now - dt.timedelta(days=9),
        )
        s.add(request)
        s.commit()
        number, token = patient.mobile_e164, request.pay_token

    settings = dataclasses.replace(
        get_settings(),
        twilio_account_sid=fresh_app.env["TWILIO_ACCOUNT_SID"],
        twilio_auth_token=fresh_app.env["TWILIO_AUTH_TOKEN"],
        twilio_api_base=fresh_app.sandbox_url,
        stripe_secret_key=fresh_app.env["STRIPE_SECRET_KEY"],
        stripe_api_base=fresh_app.sandbox_url,
        public_base_url=fresh_app.backend_url,
    )
    result = sweep(
        engine,
        SmsGateway.from_settings(settings),
        StripeGateway.from_settings(settings),
        public_base_url=fresh_app.backend_url,
        now=now,
    )
    engine.dispose()
    assert result is not None

    log_in(page, fresh_app, "demo2@jotpay.local")
    page.click("#account-menu")
    page.click("#menu-payment-settings")
    row = page.locator("#requests-table tbody tr", has_text="$99.00")
    expect(row).to_have_attribute("data-status", "overdue")
    row.click()
    expect(page.locator("#request-timeline")).to_contain_text("verdue")

    page.goto(fresh_app.outbox(number))
    reminder = page.locator("#message-list").get_by_text("a reminder that $99.00 is still open")
    expect(reminder).to_be_visible()
    expect(page.locator("#message-list")).to_contain_text(f"/pay/{token}")
