"""Builders for payment-request tests: a practice with a clinician who finished Stripe
onboarding (through the real SDK against the local stand-in), a patient, and helpers to
read back what the app recorded and to sign webhooks the way Stripe and Twilio do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from jotpay_app.models import (
    Clinician,
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    ProcessedWebhook,
    SessionType,
    SmsMessage,
    StripeAccount,
    utcnow,
)
from jotpay_app.sandbox.client import complete_onboarding
from jotpay_app.services import connect
from jotpay_app.services.auth import Identity
from jotpay_app.services.requests import RequestForm
from jotpay_app.services.stripe_gateway import STRIPE_API_VERSION, StripeGateway
from jotpay_app.services.timefmt import local_today

PRACTICE_NAME = "Riverside Counseling"
PRACTICE_TZ = "America/New_York"
PATIENT_MOBILE = "+16175550142"
PATIENT_FIRST = "Maria"
PATIENT_LAST = "Okonkwo-Hale"
SESSION_TYPE_CODE = "90837"
SESSION_TYPE_LABEL = "Psychotherapy, 53 min"
# Clinical-sounding on purpose: none of it may reach the text message or the card page.
REASON = "Copay for CBT session re: panic disorder"
CONSENT_METHOD = "Verbally, in session"

# The stand-in keeps idempotency keys for 24 h, and the app derives its keys from row ids
# ("express-account-clinician-<id>", "checkout-request-<id>-attempt-<n>"). Each test
# truncates the database, which restarts ids at 1, so every world gets ids nobody used
# before in this test session.
_CLINICIAN_IDS = itertools.count(700_001)
_REQUEST_ID_BLOCKS = itertools.count(1)
REQUEST_ID_BLOCK = 1000


@dataclass
class World:
    engine: Engine
    practice_id: int
    clinician_id: int
    patient_id: int
    session_type_id: int
    who: Identity
    account_id: str
    mobile: str
    extra: dict[str, Any] = field(default_factory=dict)

    def today(self) -> dt.date:
        return local_today(PRACTICE_TZ)

    def form(self, **changes: Any) -> RequestForm:
        values: dict[str, Any] = {
            "amount": "50",
            "reason": REASON,
            "due_date": (self.today() + dt.timedelta(days=7)).isoformat(),
        }
        values.update(changes)
        return RequestForm(**values)


def reserve_request_ids(engine: Engine) -> int:
    """Make the next PaymentRequest id start a block never used before in this session."""
    start = next(_REQUEST_ID_BLOCKS) * REQUEST_ID_BLOCK
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('paymentrequest', 'id'), :n)"),
                {"n": start},
            )
        return start + 1
    # SQLite hands out max(rowid) + 1: keep a placeholder row at `start`, in a practice of
    # its own so that no test counts it.
    with Session(engine) as session:
        practice = Practice(name="(id placeholder)")
        session.add(practice)
        session.flush()
        clinician = Clinician(
            practice_id=practice.id or 0,
            email=f"placeholder.{start}@example.com",
            full_name="(id placeholder)",
            password_hash="!",
        )
        patient = Patient(practice_id=practice.id or 0, first_name="(id", last_name="placeholder)")
        session.add_all([clinician, patient])
        session.flush()
        session.add(
            PaymentRequest(
                id=start,
                practice_id=practice.id or 0,
                clinician_id=clinician.id or 0,
                patient_id=patient.id or 0,
                invoice_number=0,
                amount_cents=0,
                fee_cents=0,
                net_cents=0,
                reason="id placeholder",
                due_date=dt.date(2000, 1, 1),
                status="canceled",
                pay_token=secrets.token_hex(16),
                submit_key=secrets.token_hex(16),
            )
        )
        session.commit()
    return start + 1


def build_world(
    engine: Engine,
    stripe: StripeGateway | None,
    *,
    mobile: str = PATIENT_MOBILE,
    consent: bool = True,
    opted_out: bool = False,
    onboarded: bool = True,
) -> World:
    """Practice, clinician, patient, session type; with `stripe`, the clinician's Express
    account is created and onboarded through the SDK and stored as the app stores it."""
    reserve_request_ids(engine)
    clinician_id = next(_CLINICIAN_IDS)
    email = f"dr.rivera.{clinician_id}@example.com"
    with Session(engine, expire_on_commit=False) as session:
        practice = Practice(name=PRACTICE_NAME, timezone=PRACTICE_TZ)
        session.add(practice)
        session.flush()
        clinician = Clinician(
            id=clinician_id,
            practice_id=practice.id or 0,
            email=email,
            full_name="Dr. Ana Rivera",
            password_hash="!",
        )
        session.add(clinician)
        session.flush()
        patient = Patient(
            practice_id=practice.id or 0,
            first_name=PATIENT_FIRST,
            last_name=PATIENT_LAST,
            email="maria@example.com",
            mobile_e164=mobile,
            sms_consent_at=utcnow() if mobile and consent else None,
            sms_consent_method=CONSENT_METHOD if mobile and consent else "",
            sms_consent_by_clinician_id=clinician_id if mobile and consent else None,
            sms_opted_out=opted_out,
            sms_opted_out_at=utcnow() if opted_out else None,
        )
        session_type = SessionType(
            practice_id=practice.id or 0,
            code=SESSION_TYPE_CODE,
            label=SESSION_TYPE_LABEL,
            default_fee_cents=18000,
            duration_minutes=53,
        )
        session.add_all([patient, session_type])
        session.commit()
        ids = (practice.id or 0, patient.id or 0, session_type.id or 0)

    account_id = ""
    if stripe is not None:
        # The app's own first step: create the Express account (stored at once), get a link.
        with Session(engine) as session:
            link = connect.onboarding_url(
                session,
                clinician_id,
                stripe,
                return_url="http://127.0.0.1:9/settings/payments?done=1",
                refresh_url="http://127.0.0.1:9/settings/payments?refresh=1",
            )
            account = connect.account_for(session, clinician_id)
            assert account is not None
            account_id = account.stripe_account_id
        if onboarded:
            complete_onboarding(link)
            state = stripe.retrieve_account(account_id)
            assert state.charges_enabled, state
            with Session(engine) as session:
                connect.store_state(session, state, clinician_id)
                session.commit()

    who = Identity(
        clinician_id=clinician_id,
        practice_id=ids[0],
        clinician_name="Dr. Ana Rivera",
        email=email,
        practice_name=PRACTICE_NAME,
        practice_timezone=PRACTICE_TZ,
    )
    return World(
        engine=engine,
        practice_id=ids[0],
        clinician_id=clinician_id,
        patient_id=ids[1],
        session_type_id=ids[2],
        who=who,
        account_id=account_id,
        mobile=mobile,
    )


# -- reading back what the app stored ---------------------------------------------------------
def request_row(engine: Engine, request_id: int) -> PaymentRequest:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(PaymentRequest, request_id)
        assert row is not None, f"no payment request {request_id}"
        return row


def requests_of(world: World) -> list[PaymentRequest]:
    with Session(world.engine, expire_on_commit=False) as session:
        return list(
            session.exec(
                select(PaymentRequest)
                .where(PaymentRequest.practice_id == world.practice_id)
                .order_by(PaymentRequest.id)
            ).all()
        )


def sms_rows(world: World) -> list[SmsMessage]:
    with Session(world.engine, expire_on_commit=False) as session:
        return list(
            session.exec(
                select(SmsMessage)
                .where(SmsMessage.practice_id == world.practice_id)
                .order_by(SmsMessage.id)
            ).all()
        )


def patient_row(world: World, patient_id: int | None = None) -> Patient:
    with Session(world.engine, expire_on_commit=False) as session:
        row = session.get(Patient, patient_id or world.patient_id)
        assert row is not None
        return row


def practice_row(world: World) -> Practice:
    with Session(world.engine, expire_on_commit=False) as session:
        row = session.get(Practice, world.practice_id)
        assert row is not None
        return row


def stripe_account_row(world: World) -> StripeAccount:
    with Session(world.engine, expire_on_commit=False) as session:
        row = session.exec(
            select(StripeAccount).where(StripeAccount.clinician_id == world.clinician_id)
        ).first()
        assert row is not None
        return row


def event_kinds(engine: Engine, request_id: int) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(PaymentEvent.kind)
                .where(PaymentEvent.request_id == request_id)
                .order_by(PaymentEvent.id)
            ).all()
        )


def processed_count(engine: Engine, source: str, event_id: str) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(ProcessedWebhook)
                .where(ProcessedWebhook.source == source, ProcessedWebhook.event_id == event_id)
            ).one()
        )


def add_request(
    world: World,
    *,
    status: str = "sent",
    amount_cents: int = 5000,
    due_date: dt.date | None = None,
    paid: bool = False,
) -> PaymentRequest:
    """A request written directly (for states the pay link must handle)."""
    from jotpay_app.services.invoices import take_invoice_number
    from jotpay_app.services.money import breakdown

    fees = breakdown(amount_cents)
    with Session(world.engine, expire_on_commit=False) as session:
        row = PaymentRequest(
            practice_id=world.practice_id,
            clinician_id=world.clinician_id,
            patient_id=world.patient_id,
            invoice_number=take_invoice_number(session, world.practice_id),
            amount_cents=amount_cents,
            fee_cents=fees.fee_cents,
            net_cents=fees.net_cents,
            reason=REASON,
            due_date=due_date or world.today() + dt.timedelta(days=7),
            status=status,
            pay_token=secrets.token_urlsafe(16),
            submit_key=secrets.token_hex(16),
            sent_at=utcnow(),
            paid_at=utcnow() if paid else None,
        )
        session.add(row)
        session.commit()
        return row


# -- signing as the senders do ----------------------------------------------------------------
def stripe_signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """`Stripe-Signature` header: t=<ts>,v1=hex(HMAC-SHA256(secret, "<ts>.<payload>"))."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(event_type: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "evt_test_" + secrets.token_hex(12),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
        **extra,
    }


def checkout_completed(request_id: int, amount_cents: int = 5000) -> dict[str, Any]:
    return stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_test_" + secrets.token_hex(12),
            "object": "checkout.session",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": amount_cents,
            "currency": "usd",
            "payment_intent": "pi_test_" + secrets.token_hex(12),
            "metadata": {"jotpay_request_id": str(request_id)},
        },
    )


def post_stripe_event(
    http: httpx.Client,
    url: str,
    event: dict[str, Any],
    secret: str,
    *,
    timestamp: int | None = None,
    signature: str | None = None,
) -> httpx.Response:
    payload = json.dumps(event)
    headers = {"Content-Type": "application/json"}
    sig = stripe_signature(payload, secret, timestamp) if signature is None else signature
    if sig:
        headers["Stripe-Signature"] = sig
    return http.post(url, content=payload.encode(), headers=headers)


def post_twilio(
    http: httpx.Client, url: str, params: dict[str, str], token: str, *, tamper: dict | None = None
) -> httpx.Response:
    """POST form params signed as Twilio signs them; `tamper` changes params after signing."""
    signature = RequestValidator(token).compute_signature(url, params)
    body = {**params, **(tamper or {})}
    return http.post(url, data=body, headers={"X-Twilio-Signature": signature})


def poll(probe: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """`probe()` until truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or probe}")
        time.sleep(0.05)


def wait_for_lock_waiters(engine: Engine, count: int, timeout: float = 10.0) -> None:
    """PostgreSQL: until `count` sessions of this database wait for a lock."""

    def waiting() -> bool:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        return int(found) >= count

    poll(waiting, timeout=timeout, what=f"{count} sessions waiting for a row lock")
