"""Payment requests: validate the form, record the request, text the pay link.

Outgoing calls follow "record intent, call, record result": the request (and the
text about to be sent) is committed before Twilio is called, so a crash or timeout
leaves a row the retry job finds; before re-sending, Twilio's message list is
checked, so a text that did go out is never sent twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from jotpay_app.models import (
    OPEN_STATUSES,
    Appointment,
    Patient,
    PaymentRequest,
    Practice,
    RequestStatus,
    SessionType,
    SmsMessage,
    StripeAccount,
    utcnow,
)
from jotpay_app.services import lifecycle, sms_caps
from jotpay_app.services.auth import Identity
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import AmountError, breakdown, parse_dollars
from jotpay_app.services.patients import CONSENT_METHODS, get_patient, update_mobile
from jotpay_app.services.phones import PhoneError, normalize_mobile
from jotpay_app.services.sms import SmsError, SmsGateway, request_text
from jotpay_app.services.timefmt import local_today

S = RequestStatus
REASON_MAX_CHARS = 200
QUICK_REASONS = (
    "Session fee",
    "Copay",
    "No-show fee",
    "Late cancellation fee",
    "Outstanding balance",
)
# Automatic SMS retries: 1, 2, 4, 8, 16, 32 minutes after each failure, then stop
# (the clinician can still press Retry).
MAX_AUTOMATIC_SMS_ATTEMPTS = 6
# A request left in `sending` this long was interrupted (crash between record and send).
STUCK_SENDING_AFTER = dt.timedelta(minutes=2)
# Requests with the same content from the same clinician within this window are one
# request: double clicks, two tabs or a retried event do not send twice.
DUPLICATE_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class RequestForm:
    amount: str
    reason: str
    due_date: str  # ISO yyyy-mm-dd from the date input
    mobile: str = ""
    consent_given: bool = False
    consent_method: str = ""


@dataclass(frozen=True)
class ValidRequest:
    amount_cents: int
    reason: str
    due_date: dt.date


@dataclass(frozen=True)
class SubmitResult:
    request_id: int
    created: bool  # False: an identical request was already made (double submit)
    status: str
    message: str


def validate_form(form: RequestForm, *, max_cents: int, today: dt.date) -> ValidRequest:
    """Check every field; FieldErrors lists each bad field with its message."""
    errors: dict[str, str] = {}
    amount = 0
    try:
        amount = parse_dollars(form.amount, max_cents=max_cents)
    except AmountError as exc:
        errors["amount"] = str(exc)
    reason = " ".join(form.reason.split())
    if not reason:
        errors["reason"] = "Enter a reason for the payment."
    elif len(reason) > REASON_MAX_CHARS:
        errors["reason"] = f"Keep the reason under {REASON_MAX_CHARS} characters."
    due = today
    try:
        due = dt.date.fromisoformat(form.due_date.strip())
        if due < today:
            errors["due_date"] = "The due date can't be in the past."
        elif due > today + dt.timedelta(days=366):
            errors["due_date"] = "Choose a due date within a year."
    except ValueError:
        errors["due_date"] = "Choose a due date."
    if errors:
        raise FieldErrors(errors)
    return ValidRequest(amount_cents=amount, reason=reason, due_date=due)


def validate_new_mobile(form: RequestForm) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        normalize_mobile(form.mobile)
    except PhoneError as exc:
        errors["mobile"] = str(exc)
    if not form.consent_given:
        errors["consent"] = "Confirm that the patient agreed to receive payment texts."
    elif form.consent_method not in CONSENT_METHODS:
        errors["consent"] = "Choose how the patient agreed."
    return errors


def account_ready(session: Session, clinician_id: int) -> bool:
    account = session.exec(
        select(StripeAccount).where(StripeAccount.clinician_id == clinician_id)
    ).first()
    return bool(account and account.charges_enabled)


def _submit_key(
    who: Identity, patient_id: int, appointment_id: int | None, valid: ValidRequest, bucket: int
) -> str:
    raw = (
        f"{who.clinician_id}|{patient_id}|{appointment_id or 0}|{valid.amount_cents}|"
        f"{valid.reason.lower()}|{valid.due_date.isoformat()}|{bucket}"
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def create_request(
    session: Session,
    who: Identity,
    *,
    patient_id: int,
    form: RequestForm,
    max_cents: int,
    appointment_id: int | None = None,
    note_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[PaymentRequest, bool]:
    """Record a request (status `sending`, or `awaiting_setup` before Stripe onboarding).

    Returns (request, created). An identical request made moments ago is returned
    instead of a new one. Raises FieldErrors (nothing saved) for bad input.
    """
    now = now or utcnow()
    patient = get_patient(session, who.practice_id, patient_id)
    valid = validate_form(form, max_cents=max_cents, today=local_today(who.practice_timezone, now))
    if not patient.mobile_e164:
        errors = validate_new_mobile(form)
        if errors:
            raise FieldErrors(errors)
    if patient.sms_opted_out:
        raise FieldErrors(
            {
                "mobile": "This patient replied STOP to payment texts, so no text "
                "can be sent. They can text START to allow them again."
            }
        )
    if appointment_id is not None:
        appointment = session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.practice_id != who.practice_id
            or appointment.patient_id != patient_id
        ):
            raise NotFoundError("Appointment not found")
        open_one = open_request_for_appointment(session, appointment_id)
        if open_one is not None:
            # One open request per appointment (also a unique index, for concurrent clicks).
            return open_one, False

    # Same content, same clinician, same 10-minute bucket (or the previous one): one request.
    bucket = int(now.timestamp() // DUPLICATE_WINDOW.total_seconds())
    keys = [_submit_key(who, patient_id, appointment_id, valid, b) for b in (bucket, bucket - 1)]
    existing = session.exec(
        select(PaymentRequest).where(PaymentRequest.submit_key.in_(keys))  # type: ignore[attr-defined]
    ).first()
    if existing is not None:
        return existing, False

    if not patient.mobile_e164:
        update_mobile(
            session,
            practice_id=who.practice_id,
            patient_id=patient_id,
            clinician_id=who.clinician_id,
            mobile_text=form.mobile,
            consent_given=form.consent_given,
            consent_method=form.consent_method,
        )
    fees = breakdown(valid.amount_cents)
    ready = account_ready(session, who.clinician_id)
    request = PaymentRequest(
        practice_id=who.practice_id,
        clinician_id=who.clinician_id,
        patient_id=patient_id,
        appointment_id=appointment_id,
        note_id=note_id,
        invoice_number=take_invoice_number(session, who.practice_id),
        amount_cents=valid.amount_cents,
        fee_cents=fees.fee_cents,
        net_cents=fees.net_cents,
        reason=valid.reason,
        due_date=valid.due_date,
        status=S.SENDING if ready else S.AWAITING_SETUP,
        pay_token=secrets.token_urlsafe(16),  # 128 bits
        submit_key=keys[0],
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    # A concurrent identical submit makes this flush fail on the unique submit_key
    # (IntegrityError); `submit_request` then retries and finds that request.
    session.flush()
    lifecycle.record_event(
        session,
        request,
        actor=f"clinician:{who.clinician_id}",
        kind="created",
        to_status=request.status,
        detail="" if ready else "waiting for Stripe setup",
    )
    return request, True


def submit_request(
    engine: Engine,
    who: Identity,
    *,
    patient_id: int,
    form: RequestForm,
    max_cents: int,
    appointment_id: int | None = None,
    note_id: int | None = None,
) -> tuple[int, bool, str]:
    """Record a request in its own transaction: (request id, created, status)."""
    for attempt in range(2):
        try:
            with Session(engine, expire_on_commit=False) as session:
                request, created = create_request(
                    session,
                    who,
                    patient_id=patient_id,
                    form=form,
                    max_cents=max_cents,
                    appointment_id=appointment_id,
                    note_id=note_id,
                )
                session.commit()
                return request.id or 0, created, request.status
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def open_request_for_appointment(session: Session, appointment_id: int) -> PaymentRequest | None:
    return session.exec(
        select(PaymentRequest).where(
            PaymentRequest.appointment_id == appointment_id,
            PaymentRequest.status.in_([s.value for s in OPEN_STATUSES]),  # type: ignore[attr-defined]
        )
    ).first()


def pay_link(public_base_url: str, token: str) -> str:
    return f"{public_base_url}/pay/{token}"


def _request_body(session: Session, request: PaymentRequest, public_base_url: str) -> str:
    practice = session.get(Practice, request.practice_id)
    return request_text(
        practice_name=practice.name if practice else "Your care team",
        amount_cents=request.amount_cents,
        due_date=request.due_date,
        link=pay_link(public_base_url, request.pay_token),
    )


def deliver_request_sms(
    engine: Engine,
    request_id: int,
    sms: SmsGateway,
    *,
    public_base_url: str,
    now: dt.datetime | None = None,
) -> str:
    """Text the pay link for a request in `sending`. Returns the resulting status.

    Step 1 (committed): claim the request, record the outgoing text as `pending`.
    Step 2: look the text up in Twilio if an earlier attempt may have sent it, else send.
    Step 3 (committed): record `sent`, or `sms_failed` with the reason and next retry.
    """
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        request = lifecycle.lock_request(session, request_id)
        if request is None or request.status != S.SENDING:
            return request.status if request else ""
        patient = session.get(Patient, request.patient_id)
        assert patient is not None
        message = session.exec(
            select(SmsMessage).where(
                SmsMessage.request_id == request_id,
                SmsMessage.purpose == "request",
                SmsMessage.status == "pending",
            )
        ).first()
        earlier_attempt_may_have_sent = message is not None
        if message is None:
            message = SmsMessage(
                practice_id=request.practice_id,
                patient_id=request.patient_id,
                request_id=request_id,
                purpose="request",
                to_e164=patient.mobile_e164,
                body=_request_body(session, request, public_base_url),
                status="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(message)
        request.sms_attempts += 1
        session.add(request)
        session.commit()
        message_id, to, body = message.id, message.to_e164, message.body
        since = message.created_at - dt.timedelta(seconds=5)

    sent = None
    error: SmsError | None = None
    try:
        if earlier_attempt_may_have_sent:
            sent = sms.find_sent(to=to, body=body, since=since)
        if sent is None:
            try:
                sent = sms.send(to=to, body=body)
            except SmsError as exc:
                if exc.permanent:
                    raise
                # Timed out or 5xx: Twilio may have sent it anyway. Look before giving up.
                sent = sms.find_sent(to=to, body=body, since=since)
                if sent is None:
                    raise
    except SmsError as exc:
        error = exc

    with Session(engine, expire_on_commit=False) as session:
        request = lifecycle.lock_request(session, request_id)
        message = session.get(SmsMessage, message_id)
        assert request is not None and message is not None
        if request.status != S.SENDING:
            return request.status  # canceled or paid meanwhile: leave it as it is
        if sent is not None:
            message.twilio_sid = sent.sid
            message.status = sent.status or "queued"
            message.updated_at = utcnow()
            request.sent_at = request.sent_at or utcnow()
            request.next_sms_attempt_at = None
            request.failure_reason = ""
            lifecycle.transition(
                session,
                request,
                S.SENT,
                actor="twilio",
                kind="sms_sent",
                detail=f"SMS accepted ({sent.sid})",
            )
        else:
            assert error is not None
            retry = not error.permanent and request.sms_attempts < MAX_AUTOMATIC_SMS_ATTEMPTS
            if error.permanent:
                message.status = "failed"
                message.error_code = str(error.code or "")
            message.updated_at = utcnow()
            request.failure_reason = str(error)[:255]
            request.next_sms_attempt_at = (
                utcnow() + dt.timedelta(minutes=2 ** (request.sms_attempts - 1)) if retry else None
            )
            if error.permanent and error.code == 21610:
                patient = session.get(Patient, request.patient_id)
                if patient is not None and not patient.sms_opted_out:
                    patient.sms_opted_out = True
                    patient.sms_opted_out_at = utcnow()
                    session.add(patient)
            lifecycle.transition(
                session,
                request,
                S.SMS_FAILED,
                actor="twilio",
                kind="sms_failed",
                detail=str(error) + (" Retrying automatically." if retry else ""),
            )
        session.add(message)
        session.commit()
        return request.status


def retry_sms(session: Session, who: Identity | None, request_id: int, *, actor: str) -> bool:
    """Move an `sms_failed` request back to `sending` (the Retry button, or the job)."""
    request = lifecycle.lock_request(session, request_id)
    if request is None or (who is not None and request.clinician_id != who.clinician_id):
        raise NotFoundError("Payment request not found")
    if request.status != S.SMS_FAILED:
        return False
    patient = session.get(Patient, request.patient_id)
    if patient is not None and patient.sms_opted_out:
        raise FieldErrors({"mobile": "This patient replied STOP to payment texts."})
    return lifecycle.transition(session, request, S.SENDING, actor=actor, kind="sms_retry")


def due_sms_retries(session: Session, now: dt.datetime, *, limit: int = 100) -> list[int]:
    """Requests whose text should be (re)tried now: failed with a retry due, or stuck."""
    rows = session.exec(
        select(PaymentRequest.id)
        .where(
            sa.or_(
                sa.and_(
                    PaymentRequest.status == S.SMS_FAILED,
                    PaymentRequest.next_sms_attempt_at.is_not(None),  # type: ignore[union-attr]
                    PaymentRequest.next_sms_attempt_at <= now,
                ),  # type: ignore[operator]
                sa.and_(
                    PaymentRequest.status == S.SENDING,
                    PaymentRequest.updated_at <= now - STUCK_SENDING_AFTER,
                ),
            )
        )
        .order_by(PaymentRequest.id)
        .limit(limit)
    ).all()
    return [int(r) for r in rows if r is not None]


def run_sms_retries(
    engine: Engine, sms: SmsGateway, *, public_base_url: str, now: dt.datetime | None = None
) -> int:
    """The scheduler's job: retry due texts. Returns how many were attempted."""
    now = now or utcnow()
    with Session(engine) as session:
        ids = due_sms_retries(session, now)
    attempted = 0
    for request_id in ids:
        with Session(engine, expire_on_commit=False) as session:
            request = lifecycle.lock_request(session, request_id)
            if request is None:
                continue
            if request.status == S.SMS_FAILED:
                if request.next_sms_attempt_at is None or request.next_sms_attempt_at > now:
                    continue  # another worker got here first
                # Automatic retries obey the texting caps and quiet hours.
                hold = sms_caps.hold_for_retry(session, request, now)
                if hold is not None:
                    # None = opted out or no number: stop retrying automatically.
                    request.next_sms_attempt_at = hold.until
                    session.add(request)
                    session.commit()
                    continue
                retry_sms(session, None, request_id, actor="system")
            elif request.status == S.SENDING and request.updated_at > now - STUCK_SENDING_AFTER:
                continue
            else:
                # Stuck in `sending`: touch it so a second worker does not pick it up too.
                request.updated_at = utcnow()
                session.add(request)
            session.commit()
        deliver_request_sms(engine, request_id, sms, public_base_url=public_base_url)
        attempted += 1
    return attempted


def release_awaiting_setup(session: Session, clinician_id: int) -> list[int]:
    """After onboarding: requests kept as `awaiting_setup` move on to `sending`."""
    rows = session.exec(
        select(PaymentRequest).where(
            PaymentRequest.clinician_id == clinician_id, PaymentRequest.status == S.AWAITING_SETUP
        )
    ).all()
    for request in rows:
        lifecycle.transition(
            session,
            request,
            S.SENDING,
            actor="system",
            kind="setup_complete",
            detail="Stripe setup finished",
        )
    return [r.id or 0 for r in rows]


def session_fee_for_appointment(
    session: Session, practice_id: int, appointment_id: int
) -> int | None:
    row = session.exec(
        select(SessionType.default_fee_cents)
        .join(Appointment, Appointment.session_type_id == SessionType.id)
        .where(Appointment.id == appointment_id, Appointment.practice_id == practice_id)
    ).first()
    return int(row) if row is not None else None


@dataclass(frozen=True)
class SendOutcome:
    request_id: int
    status: str
    created: bool
    level: str  # "success" | "info" | "warning" | "error": how the UI shows `message`
    message: str


def send_payment_request(
    engine: Engine,
    who: Identity,
    *,
    patient_id: int,
    form: RequestForm,
    sms: SmsGateway,
    public_base_url: str,
    max_cents: int,
    appointment_id: int | None = None,
    note_id: int | None = None,
) -> SendOutcome:
    """Send Request: record it, then text the link. Raises FieldErrors for bad input."""
    request_id, created, status = submit_request(
        engine,
        who,
        patient_id=patient_id,
        form=form,
        max_cents=max_cents,
        appointment_id=appointment_id,
        note_id=note_id,
    )
    if not created:
        return SendOutcome(
            request_id,
            status,
            False,
            "info",
            "This appointment already has an open payment request: nothing new was sent."
            if appointment_id
            else "This request was already sent: nothing was sent twice.",
        )
    if status == S.AWAITING_SETUP:
        return SendOutcome(
            request_id,
            status,
            True,
            "info",
            "Request saved. It will be sent as soon as your Stripe setup is done.",
        )
    status = deliver_request_sms(engine, request_id, sms, public_base_url=public_base_url)
    if status == S.SENT:
        return SendOutcome(
            request_id, status, True, "success", "Payment request sent by text message."
        )
    with Session(engine) as session:
        request = session.get(PaymentRequest, request_id)
        reason = request.failure_reason if request else ""
        retrying = bool(request and request.next_sms_attempt_at)
    if retrying:
        return SendOutcome(
            request_id,
            status,
            True,
            "warning",
            f"SMS not sent yet: {reason} The request is saved and will be "
            "retried automatically, or press Retry.",
        )
    return SendOutcome(request_id, status, True, "error", f"SMS not sent: {reason}")
