"""Applying what Stripe and Twilio tell us. Each event is applied at most once (its id is
recorded in the same transaction), in any order, and only moves a request forward."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from jotpay_app.models import (
    Patient,
    PaymentRequest,
    ProcessedWebhook,
    RequestStatus,
    SmsMessage,
    utcnow,
)
from jotpay_app.services import connect, lifecycle, paylink
from jotpay_app.services.stripe_gateway import account_state_from, checkout_session_from

log = logging.getLogger(__name__)
S = RequestStatus

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}
# Message statuses only move forward (callbacks can arrive out of order).
SMS_STATUS_RANK = {
    "pending": 0,
    "accepted": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "failed": 5,
    "undelivered": 5,
    "delivered": 6,
}


def _mark_processed(session: Session, source: str, event_id: str) -> bool:
    """Insert the event id; False when it was already applied (a replay)."""
    if session.exec(
        select(ProcessedWebhook).where(
            ProcessedWebhook.source == source, ProcessedWebhook.event_id == event_id
        )
    ).first():
        return False
    session.add(ProcessedWebhook(source=source, event_id=event_id))
    session.flush()
    return True


def apply_once(engine: Engine, source: str, event_id: str, apply: Any) -> str:
    """Run `apply(session)` once per event id, atomically with recording the id.

    Two deliveries of the same event racing each other: one commits, the other fails on
    the unique (source, event_id) and is reported as a duplicate.
    """
    try:
        with Session(engine, expire_on_commit=False) as session:
            if not _mark_processed(session, source, event_id):
                return "duplicate"
            outcome = apply(session)
            session.commit()
            return outcome
    except IntegrityError:
        return "duplicate"


def _request_from_metadata(session: Session, obj: dict[str, Any]) -> PaymentRequest | None:
    metadata = obj.get("metadata") or {}
    raw = str(metadata.get("jotpay_request_id", ""))
    if not raw.isdigit():
        return None
    return lifecycle.lock_request(session, int(raw))


def apply_stripe_event(session: Session, event: dict[str, Any]) -> str:
    kind = str(event.get("type", ""))
    obj = (event.get("data") or {}).get("object") or {}
    created = dt.datetime.fromtimestamp(int(event.get("created", 0) or 0), dt.UTC)
    if kind == "account.updated":
        account = connect.store_state(session, account_state_from(obj))
        return "account updated" if account else "unknown account"
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        checkout = checkout_session_from(obj)
        request = _request_from_metadata(session, obj)
        if request is None:
            return "unknown request"
        if checkout.payment_status != "paid":
            return "not paid yet"
        changed = paylink.record_payment(
            session,
            request,
            amount_cents=checkout.amount_total,
            payment_intent_id=checkout.payment_intent_id,
            actor="stripe",
            paid_at=created,
        )
        return "paid" if changed else "already paid"
    if kind == "payment_intent.succeeded":
        request = _request_from_metadata(session, obj)
        if request is None:
            return "unknown request"
        changed = paylink.record_payment(
            session,
            request,
            amount_cents=int(obj.get("amount_received") or obj.get("amount") or 0),
            payment_intent_id=str(obj.get("id", "")),
            actor="stripe",
            paid_at=created,
        )
        return "paid" if changed else "already paid"
    if kind == "payment_intent.payment_failed":
        request = _request_from_metadata(session, obj)
        if request is None:
            return "unknown request"
        error = obj.get("last_payment_error") or {}
        reason = str(error.get("message") or "The card was declined.")[:255]
        if (
            lifecycle.can_transition(request.status, S.PAYMENT_FAILED)
            or request.status == S.PAYMENT_FAILED
        ):
            request.failure_reason = reason
            if not lifecycle.transition(
                session,
                request,
                S.PAYMENT_FAILED,
                actor="stripe",
                kind="payment_failed",
                detail=reason,
            ):
                lifecycle.record_event(
                    session, request, actor="stripe", kind="payment_failed", detail=reason
                )
            return "payment failed"
        # Paid already (events out of order) or overdue: keep the status, keep the history.
        lifecycle.record_event(
            session, request, actor="stripe", kind="payment_failed", detail=reason
        )
        return "recorded"
    if kind == "checkout.session.expired":
        request = _request_from_metadata(session, obj)
        if request is not None and request.checkout_session_id == obj.get("id"):
            request.checkout_session_id = ""
            request.checkout_url = ""
            request.checkout_expires_at = None
            session.add(request)
            return "checkout expired"
        return "ignored"
    if kind == "charge.refunded":
        found = session.exec(
            select(PaymentRequest.id).where(
                PaymentRequest.payment_intent_id == str(obj.get("payment_intent", ""))
            )
        ).first()
        # Locked: a refund the app records at the same moment must not be overwritten with
        # an older total (totals only ever go up).
        request = lifecycle.lock_request(session, found) if found else None
        if request is None:
            return "unknown request"
        refunded = int(obj.get("amount_refunded") or 0)
        if refunded <= request.amount_refunded_cents:
            return "already recorded"
        request.amount_refunded_cents = refunded
        target = S.REFUNDED if refunded >= request.amount_cents else S.PARTIALLY_REFUNDED
        lifecycle.transition(
            session,
            request,
            target,
            actor="stripe",
            kind="refunded",
            detail=f"{refunded} cents refunded in total",
        )
        return "refunded"
    return "ignored"


def apply_twilio_status(session: Session, params: dict[str, str]) -> str:
    sid = params.get("MessageSid", "")
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    message = session.exec(select(SmsMessage).where(SmsMessage.twilio_sid == sid)).first()
    if message is None:
        return "unknown message"
    if SMS_STATUS_RANK.get(status, -1) <= SMS_STATUS_RANK.get(message.status, -1):
        return "stale"
    message.status = status
    message.error_code = params.get("ErrorCode", "") or message.error_code
    message.updated_at = utcnow()
    session.add(message)
    if message.request_id and status in ("delivered", "failed", "undelivered"):
        request = session.get(PaymentRequest, message.request_id)
        if request is not None:
            detail = (
                "SMS delivered"
                if status == "delivered"
                else (f"SMS {status} (carrier error {message.error_code or 'unknown'})")
            )
            lifecycle.record_event(
                session, request, actor="twilio", kind=f"sms_{status}", detail=detail
            )
    return status


def apply_inbound_sms(session: Session, params: dict[str, str]) -> str:
    """STOP / START from a patient's phone sets or clears the opt-out on every patient with
    that number (a number may be shared, e.g. a parent's phone)."""
    word = params.get("Body", "").strip().upper()
    number = params.get("From", "")
    if word in OPT_OUT_WORDS:
        opted_out = True
    elif word in OPT_IN_WORDS:
        opted_out = False
    else:
        return "ignored"
    patients = session.exec(select(Patient).where(Patient.mobile_e164 == number)).all()
    for patient in patients:
        patient.sms_opted_out = opted_out
        patient.sms_opted_out_at = utcnow() if opted_out else None
        session.add(patient)
    log.info("inbound %s applied to %d patient(s)", "STOP" if opted_out else "START", len(patients))
    return "opted out" if opted_out else "opted in"
