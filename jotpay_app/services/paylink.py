"""The patient's pay link: `/pay/<token>` → a Stripe Checkout Session → thank-you page.

A link works until the request is paid or canceled, or 60 days after its due date.
Each tap reuses the open Checkout Session or creates a new one (a new attempt, with
its own idempotency key) as a destination charge on the clinician's account, with the
2.9% + 30¢ fee as the application fee.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from jotpay_app.models import PaymentRequest, Practice, RequestStatus, StripeAccount, utcnow
from jotpay_app.services import lifecycle
from jotpay_app.services.money import format_cents
from jotpay_app.services.stripe_gateway import (
    CheckoutSession,
    StripeGateway,
    StripeGatewayError,
    idempotency_key,
)
from jotpay_app.services.timefmt import format_date, to_local

S = RequestStatus
LINK_VALID_AFTER_DUE = dt.timedelta(days=60)
CHECKOUT_LIFETIME = dt.timedelta(hours=23)  # Stripe allows at most 24 h
REUSE_MARGIN = dt.timedelta(minutes=10)
PAID_STATUSES = frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED})


@dataclass(frozen=True)
class Receipt:
    practice: str
    amount: str
    paid_on: str
    reference: str


@dataclass(frozen=True)
class PayLinkOutcome:
    kind: str  # "checkout" | "paid" | "invalid" | "not_found" | "unavailable" | "processing"
    url: str = ""
    receipt: Receipt | None = None
    practice: str = ""
    amount: str = ""


def find_by_token(session: Session, token: str) -> PaymentRequest | None:
    if not token or len(token) > 64:
        return None
    return session.exec(select(PaymentRequest).where(PaymentRequest.pay_token == token)).first()


def link_expired(request: PaymentRequest, now: dt.datetime) -> bool:
    return now.date() > request.due_date + LINK_VALID_AFTER_DUE


def receipt_for(session: Session, request: PaymentRequest) -> Receipt:
    practice = session.get(Practice, request.practice_id)
    tz = practice.timezone if practice else "UTC"
    paid = to_local(request.paid_at, tz).date() if request.paid_at else None
    return Receipt(
        practice=practice.name if practice else "",
        amount=format_cents(request.amount_cents),
        paid_on=format_date(paid),
        reference=f"INV-{request.invoice_number:05d}",
    )


def open_link(
    session: Session,
    token: str,
    stripe: StripeGateway,
    *,
    public_base_url: str,
    now: dt.datetime | None = None,
) -> PayLinkOutcome:
    now = now or utcnow()
    found = find_by_token(session, token)
    if found is None or found.status == S.AWAITING_SETUP:
        return PayLinkOutcome("not_found")
    request = lifecycle.lock_request(session, found.id or 0)
    assert request is not None
    practice = session.get(Practice, request.practice_id)
    practice_name = practice.name if practice else ""
    if request.status in PAID_STATUSES:
        return PayLinkOutcome("paid", receipt=receipt_for(session, request))
    if request.status == S.CANCELED or link_expired(request, now):
        return PayLinkOutcome("invalid", practice=practice_name)
    if (
        request.checkout_session_id
        and request.checkout_url
        and request.checkout_expires_at
        and request.checkout_expires_at > now + REUSE_MARGIN
    ):
        return PayLinkOutcome("checkout", url=request.checkout_url)
    account = session.exec(
        select(StripeAccount).where(StripeAccount.clinician_id == request.clinician_id)
    ).first()
    if account is None or not account.charges_enabled:
        return PayLinkOutcome("unavailable", practice=practice_name)
    # Record the intent first (attempt number and expiry), then call Stripe with a key
    # and parameters derived from it: if the call fails or this process dies, the next
    # tap repeats exactly the same call and Stripe answers with the same session.
    pending = (
        not request.checkout_session_id
        and request.checkout_attempt > 0
        and request.checkout_expires_at is not None
        and request.checkout_expires_at > now + REUSE_MARGIN
    )
    if not pending:
        request.checkout_attempt += 1
        request.checkout_expires_at = (now + CHECKOUT_LIFETIME).replace(microsecond=0)
        request.checkout_session_id = ""
        request.checkout_url = ""
        session.add(request)
        lifecycle.record_event(
            session,
            request,
            actor="patient",
            kind="link_opened",
            detail=f"checkout attempt {request.checkout_attempt}",
        )
    # The Stripe call runs outside any transaction: no lock is held while it waits.
    request_id, attempt, expires_at = (
        request.id or 0,
        request.checkout_attempt,
        request.checkout_expires_at,
    )
    amount, fee, invoice = request.amount_cents, request.fee_cents, request.invoice_number
    key = idempotency_key("checkout", request_id, request.created_at, "attempt", attempt)
    session.commit()
    assert expires_at is not None
    base = f"{public_base_url}/pay/{token}"
    checkout = stripe.create_checkout_session(
        request_id=request_id,
        key=key,
        amount_cents=amount,
        application_fee_cents=fee,
        destination_account=account.stripe_account_id,
        # What the card page and statement show: the practice, never clinical details.
        product_name=f"{practice_name} - invoice INV-{invoice:05d}",
        success_url=f"{base}/thanks?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/canceled",
        expires_at=expires_at,
        metadata={"jotpay_request_id": str(request_id), "invoice": str(invoice)},
    )
    request = lifecycle.lock_request(session, request_id)
    assert request is not None
    if request.status == S.CANCELED:
        # Canceled while Stripe was answering: the new session must not be used.
        session.commit()
        with contextlib.suppress(StripeGatewayError):
            stripe.expire_checkout_session(checkout.id)
        return PayLinkOutcome("invalid", practice=practice_name)
    if request.checkout_attempt == attempt and not request.checkout_session_id:
        request.checkout_session_id = checkout.id
        request.checkout_url = checkout.url
        session.add(request)
    return PayLinkOutcome("checkout", url=checkout.url)


def record_payment(
    session: Session,
    request: PaymentRequest,
    *,
    amount_cents: int,
    payment_intent_id: str,
    actor: str,
    paid_at: dt.datetime | None = None,
) -> bool:
    """Mark a request paid (idempotent). A payment after cancel is recorded and flagged."""
    if request.status in PAID_STATUSES:
        return False
    was_canceled = request.status == S.CANCELED
    request.paid_at = paid_at or utcnow()
    request.payment_intent_id = payment_intent_id or request.payment_intent_id
    if amount_cents and amount_cents != request.amount_cents:
        # Stripe charged what the session said; keep the books on what was charged.
        request.amount_cents = amount_cents
    request.failure_reason = ""
    detail = f"{format_cents(request.amount_cents)} paid; fee {format_cents(request.fee_cents)}"
    if was_canceled:
        request.needs_attention = True
        detail += " - arrived after the request was canceled: refund it"
    lifecycle.transition(session, request, S.PAID, actor=actor, kind="paid", detail=detail)
    return True


def confirm_from_checkout(
    session: Session, token: str, session_id: str, stripe: StripeGateway
) -> PayLinkOutcome:
    """The thank-you page: trust Stripe, not the URL. If the webhook has not arrived yet,
    ask Stripe about the session and record the payment the same way the webhook would."""
    found = find_by_token(session, token)
    if found is None:
        return PayLinkOutcome("not_found")
    request = lifecycle.lock_request(session, found.id or 0)
    assert request is not None
    if request.status not in PAID_STATUSES and session_id and session_id.startswith("cs_"):
        checkout: CheckoutSession = stripe.retrieve_checkout_session(session_id)
        belongs = checkout.metadata.get("jotpay_request_id") == str(request.id)
        if belongs and checkout.payment_status == "paid":
            record_payment(
                session,
                request,
                amount_cents=checkout.amount_total,
                payment_intent_id=checkout.payment_intent_id,
                actor="stripe",
            )
    if request.status in PAID_STATUSES:
        return PayLinkOutcome("paid", receipt=receipt_for(session, request))
    return PayLinkOutcome("processing")
