"""Small builders for test data (each test creates exactly what it needs)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlmodel import Session

from jotpay_app.models import (
    Appointment,
    Clinician,
    Patient,
    PaymentRequest,
    Practice,
    SessionType,
    utcnow,
)
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown

# A cheap, valid argon2 hash is not needed for most tests: they never log in.
NO_LOGIN = "!"


def practice(
    session: Session, name: str = "Test Practice", tz: str = "America/New_York"
) -> Practice:
    p = Practice(name=name, timezone=tz)
    session.add(p)
    session.flush()
    return p


def clinician(
    session: Session,
    practice_id: int,
    email: str | None = None,
    password_hash: str = NO_LOGIN,
    name: str = "Dr. Test",
) -> Clinician:
    c = Clinician(
        practice_id=practice_id,
        email=email or f"c{uuid.uuid4().hex[:8]}@example.com",
        full_name=name,
        password_hash=password_hash,
    )
    session.add(c)
    session.flush()
    return c


def patient(
    session: Session,
    practice_id: int,
    first: str = "Pat",
    last: str = "Ient",
    mobile: str = "+16175550142",
) -> Patient:
    p = Patient(
        practice_id=practice_id,
        first_name=first,
        last_name=last,
        mobile_e164=mobile,
        email=f"{first.lower()}@example.com",
        sms_consent_at=utcnow() if mobile else None,
        sms_consent_method="Verbally, in session" if mobile else "",
    )
    session.add(p)
    session.flush()
    return p


def session_type(
    session: Session, practice_id: int, code: str = "90837", fee: int = 18000
) -> SessionType:
    t = SessionType(
        practice_id=practice_id,
        code=code,
        label="Psychotherapy, 53 min",
        default_fee_cents=fee,
        duration_minutes=53,
    )
    session.add(t)
    session.flush()
    return t


def appointment(
    session: Session,
    practice_id: int,
    patient_id: int,
    clinician_id: int,
    session_type_id: int,
    starts_at: dt.datetime | None = None,
    minutes: int = 53,
    status: str = "scheduled",
) -> Appointment:
    start = starts_at or (utcnow() - dt.timedelta(hours=2))
    a = Appointment(
        practice_id=practice_id,
        patient_id=patient_id,
        clinician_id=clinician_id,
        session_type_id=session_type_id,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=minutes),
        status=status,
    )
    session.add(a)
    session.flush()
    return a


def payment_request(
    session: Session,
    practice_id: int,
    clinician_id: int,
    patient_id: int,
    amount_cents: int = 5000,
    status: str = "sent",
) -> PaymentRequest:
    fees = breakdown(amount_cents)
    r = PaymentRequest(
        practice_id=practice_id,
        clinician_id=clinician_id,
        patient_id=patient_id,
        invoice_number=take_invoice_number(session, practice_id),
        amount_cents=amount_cents,
        fee_cents=fees.fee_cents,
        net_cents=fees.net_cents,
        reason="Session fee",
        due_date=dt.date.today() + dt.timedelta(days=7),
        status=status,
        pay_token=secrets.token_urlsafe(24),
        submit_key=uuid.uuid4().hex,
    )
    session.add(r)
    session.flush()
    return r
