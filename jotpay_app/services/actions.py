"""What a clinician can do to one of their own requests: cancel, refund, resend, copy link.

Each action is confirmed in the UI, idempotent (a second click changes nothing more),
written to the request's timeline, and scoped to the logged-in clinician's own requests
(anything else is NotFoundError, never "not yours").

Calls to Stripe and Twilio follow "record intent, call, record result": the intent is
committed first, the call runs with no transaction open, and the result is recorded in
a second transaction, so a crash or timeout leaves a row that says what was attempted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jotpay_app.models import (
    OPEN_STATUSES,
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    Refund,
    RequestStatus,
    SmsMessage,
    utcnow,
)
from jotpay_app.services import connect, lifecycle, requests
from jotpay_app.services.auth import Identity
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.money import AmountError, format_cents, parse_dollars
from jotpay_app.services.sms import SmsError, SmsGateway, request_text
from jotpay_app.services.stripe_gateway import StripeGateway, StripeGatewayError, idempotency_key

S = RequestStatus
PAID_LIKE = frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED})
REFUNDABLE = frozenset({S.PAID, S.PARTIALLY_REFUNDED})
RESENDABLE = frozenset({S.SENT, S.PAYMENT_FAILED, S.OVERDUE, S.SMS_FAILED})
# A second Resend within this window is the same click (double click, two tabs).
RESEND_DEDUPE_WINDOW = dt.timedelta(minutes=2)
# Copy link is logged once per window, not on every click.
LINK_COPY_LOG_WINDOW = dt.timedelta(minutes=10)
# A refund still pending this long lost its answer (timeout, crash): it may be re-asked
# of Stripe with its original idempotency key, which cannot refund twice.
REFUND_RETRY_AFTER = dt.timedelta(minutes=1)
CONFIRM_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ActionError(Exception):
    """The action cannot be done now; the message says why, for the confirmation dialog."""


def _actor(who: Identity) -> str:
    return f"clinician:{who.clinician_id}"


def _claim_own(session: Session, who: Identity, request_id: int) -> PaymentRequest:
    """Lock the clinician's own request for this transaction, or NotFoundError.

    A no-op UPDATE first: on PostgreSQL it takes the row lock; on SQLite it starts the
    write transaction before anything is read, so two clicks racing each other are
    serialised and the second one reads what the first one wrote.
    """
    session.execute(
        sa.update(PaymentRequest)
        .where(
            PaymentRequest.id == request_id,  # type: ignore[arg-type]
            PaymentRequest.clinician_id == who.clinician_id,  # type: ignore[arg-type]
        )
        .values(updated_at=PaymentRequest.updated_at)
        .execution_options(synchronize_session=False)
    )
    request = lifecycle.lock_request(session, request_id)
    if request is None or request.clinician_id != who.clinician_id:
        raise NotFoundError("Payment request not found")
    return request


def own_request(session: Session, who: Identity, request_id: int) -> PaymentRequest:
    """Read (no lock) the clinician's own request, or NotFoundError."""
    request = session.get(PaymentRequest, request_id)
    if request is None or request.clinician_id != who.clinician_id:
        raise NotFoundError("Payment request not found")
    return request


# -- cancel -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CancelOutcome:
    request_id: int
    status: str
    changed: bool  # False: it was already canceled (a second click)
    level: str  # "success" | "info" | "warning"
    message: str


def cancel_request(
    engine: Engine, who: Identity, request_id: int, stripe: StripeGateway
) -> CancelOutcome:
    """Cancel an open request; then close its open Stripe payment page.

    The request is canceled first (committed): from then on the pay link says "no longer
    valid", whatever Stripe answers. The Checkout Session is expired afterwards, outside
    the transaction. If Stripe cannot be reached, the session id stays recorded and a
    second Cancel tries again; a payment that still arrives is recorded by the webhook
    and flagged (`needs_attention`) for a refund.
    """
    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        changed = False
        if request.status == S.SENDING:
            # The text is on its way; canceling now could race the send. A moment later
            # the request is `sent` or `sms_failed`, both cancelable.
            raise ActionError("The text is being sent right now. Try again in a moment.")
        if request.status in OPEN_STATUSES:
            now = utcnow()
            request.canceled_at = now
            request.next_sms_attempt_at = None  # no automatic text for a canceled request
            changed = lifecycle.transition(
                session, request, S.CANCELED, actor=_actor(who), kind="canceled"
            )
        elif request.status != S.CANCELED:
            raise ActionError(
                "Only an unpaid request can be canceled."
                + (" Refund it instead." if request.status in REFUNDABLE else "")
            )
        session_id = request.checkout_session_id
        session.commit()

    if not session_id:
        return _cancel_outcome(request_id, changed, "")
    problem = _expire_checkout(stripe, session_id)
    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        if problem:
            lifecycle.record_event(
                session, request, actor="stripe", kind="checkout_expire_failed", detail=problem
            )
        elif request.checkout_session_id == session_id:
            request.checkout_session_id = ""
            request.checkout_url = ""
            request.checkout_expires_at = None
            session.add(request)
            lifecycle.record_event(
                session,
                request,
                actor="stripe",
                kind="checkout_expired",
                detail="The open payment page was closed.",
            )
        session.commit()
    return _cancel_outcome(request_id, changed, problem)


def _expire_checkout(stripe: StripeGateway, session_id: str) -> str:
    """Expire a Checkout Session: "" when it is closed (now or already), else the problem."""
    try:
        stripe.expire_checkout_session(session_id)
        return ""
    except StripeGatewayError as exc:
        if exc.transient:
            return str(exc)
        # Stripe refuses to expire a session that is not open: find out whether it is
        # closed already (expired, or completed: the webhook records that payment).
        try:
            state = stripe.retrieve_checkout_session(session_id).status
        except StripeGatewayError as again:
            return str(again)
        return "" if state in ("expired", "complete") else str(exc)


def _cancel_outcome(request_id: int, changed: bool, problem: str) -> CancelOutcome:
    if problem:
        return CancelOutcome(
            request_id,
            S.CANCELED,
            changed,
            "warning",
            "Request canceled: the link no longer works. Stripe did not confirm that the "
            "open payment page was closed; press Cancel again to retry. "
            "A payment that still arrives will be flagged for a refund.",
        )
    if not changed:
        return CancelOutcome(
            request_id, S.CANCELED, False, "info", "This request was already canceled."
        )
    return CancelOutcome(
        request_id, S.CANCELED, True, "success", "Request canceled: the link no longer works."
    )


# -- refund -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefundOutcome:
    request_id: int
    refund_id: int
    number: int
    amount_cents: int
    refund_status: str  # pending | succeeded | failed
    request_status: str
    amount_refunded_cents: int
    repeated: bool  # True: the same confirmation clicked again; nothing new was refunded
    message: str


def refundable_cents(session: Session, request: PaymentRequest) -> int:
    """What is left to refund: paid - refunded - refunds still waiting for Stripe."""
    pending = session.execute(
        select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(
            Refund.request_id == request.id, Refund.status == "pending"
        )
    ).scalar_one()
    return max(request.amount_cents - request.amount_refunded_cents - int(pending), 0)


def _refund_amount(amount: int | str, left: int) -> int:
    """The amount to refund in cents, or FieldErrors({"amount": ...})."""
    if left <= 0:
        raise FieldErrors({"amount": "This payment has been fully refunded: nothing is left."})
    if isinstance(amount, str):
        try:
            cents = parse_dollars(amount, max_cents=left, min_cents=1)
        except AmountError as exc:
            message = str(exc)
            if message.startswith("The maximum"):
                message = f"At most {format_cents(left)} is left to refund."
            raise FieldErrors({"amount": message}) from None
    else:
        cents = int(amount)
    if cents < 1:
        raise FieldErrors({"amount": "Enter an amount of at least $0.01."})
    if cents > left:
        raise FieldErrors({"amount": f"At most {format_cents(left)} is left to refund."})
    return cents


def _refund_for_confirm_key(session: Session, request_id: int, confirm_key: str) -> Refund | None:
    return session.exec(
        select(Refund).where(Refund.request_id == request_id, Refund.confirm_key == confirm_key)
    ).first()


def _outcome(
    request: PaymentRequest, refund: Refund, *, repeated: bool, message: str
) -> RefundOutcome:
    return RefundOutcome(
        request_id=request.id or 0,
        refund_id=refund.id or 0,
        number=refund.number,
        amount_cents=refund.amount_cents,
        refund_status=refund.status,
        request_status=request.status,
        amount_refunded_cents=request.amount_refunded_cents,
        repeated=repeated,
        message=message,
    )


def _repeat_outcome(request: PaymentRequest, refund: Refund) -> RefundOutcome:
    amount = format_cents(refund.amount_cents)
    if refund.status == "succeeded":
        message = f"{amount} was already refunded: nothing more was refunded."
    elif refund.status == "pending":
        message = f"The refund of {amount} is being processed: nothing more was refunded."
    else:
        message = f"The refund of {amount} failed: {refund.failure_reason}"
    return _outcome(request, refund, repeated=True, message=message)


def refund_request(
    engine: Engine,
    who: Identity,
    request_id: int,
    amount: int | str,
    stripe: StripeGateway,
    confirm_key: str,
) -> RefundOutcome:
    """Refund a paid request, fully or partly, through Stripe.

    `amount` is cents (int) or what the clinician typed ("20", "$20.00").
    `confirm_key` is generated when the refund dialog opens: clicking Refund again with
    the same key returns the first refund instead of making another.

    The transfer to the clinician is reversed; the processing fee is not returned.
    Raises FieldErrors({"amount": ...}) for an amount of 0 or more than is left (nothing
    is sent to Stripe), ActionError when the request cannot be refunded or Stripe refuses.
    Concurrent clicks are serialised on the request's row: the total never exceeds what
    was paid.
    """
    if not CONFIRM_KEY_RE.match(confirm_key):
        raise ValueError("confirm_key must be 8-64 URL-safe characters")
    # 1. Record the refund as pending (committed) before Stripe is asked.
    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        earlier = _refund_for_confirm_key(session, request_id, confirm_key)
        if earlier is not None:
            return _repeat_outcome(request, earlier)
        if request.status not in REFUNDABLE:
            if request.status == S.REFUNDED:
                raise FieldErrors(
                    {"amount": "This payment has been fully refunded: nothing is left."}
                )
            raise ActionError("Only a paid payment can be refunded.")
        if not request.payment_intent_id:
            raise ActionError("This payment has no Stripe payment to refund.")
        waiting = session.exec(
            select(Refund).where(Refund.request_id == request_id, Refund.status == "pending")
        ).first()
        if waiting is not None:
            raise ActionError(
                f"A refund of {format_cents(waiting.amount_cents)} is still waiting for "
                "Stripe's answer. Try again in a minute."
            )
        cents = _refund_amount(amount, refundable_cents(session, request))
        number = (
            session.execute(
                select(sa.func.coalesce(sa.func.max(Refund.number), 0)).where(
                    Refund.request_id == request_id
                )
            ).scalar_one()
            + 1
        )
        refund = Refund(
            request_id=request_id,
            clinician_id=who.clinician_id,
            amount_cents=cents,
            number=int(number),
            status="pending",
            confirm_key=confirm_key,
            created_at=utcnow(),
        )
        session.add(refund)
        session.flush()
        lifecycle.record_event(
            session,
            request,
            actor=_actor(who),
            kind="refund_requested",
            detail=f"Refund #{refund.number} of {format_cents(cents)}",
        )
        session.commit()
        intent_id = request.payment_intent_id
    return _ask_stripe_to_refund(engine, who, request_id, refund, intent_id, stripe)


def _ask_stripe_to_refund(
    engine: Engine,
    who: Identity,
    request_id: int,
    refund: Refund,
    intent_id: str,
    stripe: StripeGateway,
) -> RefundOutcome:
    # 2. Ask Stripe, with a key derived from the refund row: a retry cannot refund twice.
    key = idempotency_key("refund", refund.id or 0, refund.created_at)
    result = None
    error: StripeGatewayError | None = None
    try:
        result = stripe.create_refund(
            payment_intent_id=intent_id,
            amount_cents=refund.amount_cents,
            key=key,
            metadata={
                "jotpay_request_id": str(request_id),
                "jotpay_refund_id": str(refund.id),
            },
        )
    except StripeGatewayError as exc:
        error = exc

    # 3. Record the answer.
    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        row = session.get(Refund, refund.id)
        assert row is not None
        if row.status != "pending":
            return _repeat_outcome(request, row)  # another retry recorded it first
        amount = format_cents(row.amount_cents)
        if result is not None:
            row.status = "succeeded"
            row.stripe_refund_id = result.id
            succeeded = session.execute(
                select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(
                    Refund.request_id == request_id,
                    Refund.status == "succeeded",
                    Refund.id != row.id,
                )
            ).scalar_one()
            # The charge.refunded webhook may have counted this refund already (it sets
            # Stripe's running total); never count it twice, never go backwards.
            request.amount_refunded_cents = min(
                max(request.amount_refunded_cents, int(succeeded) + row.amount_cents),
                request.amount_cents,
            )
            target = (
                S.REFUNDED
                if request.amount_refunded_cents >= request.amount_cents
                else S.PARTIALLY_REFUNDED
            )
            if target == S.REFUNDED:
                request.needs_attention = False  # a late payment, now returned in full
            detail = (
                f"Refund #{row.number}: {amount} refunded; "
                f"{format_cents(request.amount_refunded_cents)} refunded in total"
            )
            if request.status == target == S.REFUNDED:
                lifecycle.record_event(
                    session, request, actor="stripe", kind="refund_succeeded", detail=detail
                )
            else:
                lifecycle.transition(
                    session, request, target, actor="stripe", kind="refund_succeeded", detail=detail
                )
            message = f"{amount} refunded. The processing fee is not returned."
        elif error is not None and error.transient:
            # Stripe may have refunded anyway: keep the amount reserved (pending) until a
            # retry with the same key gets the answer.
            lifecycle.record_event(
                session,
                request,
                actor="stripe",
                kind="refund_pending",
                detail=f"Refund #{row.number}: no answer from Stripe yet",
            )
            session.add(row)
            session.commit()
            raise ActionError(
                f"Stripe did not answer. The refund of {amount} is saved and will be "
                "retried: nothing is refunded twice."
            )
        else:
            assert error is not None
            row.status = "failed"
            row.failure_reason = str(error)[:255]
            lifecycle.record_event(
                session,
                request,
                actor="stripe",
                kind="refund_failed",
                detail=f"Refund #{row.number} of {amount}: {error}",
            )
            session.add(row)
            session.commit()
            raise ActionError(f"Stripe refused the refund: {error}")
        session.add(row)
        session.add(request)
        session.commit()
        return _outcome(request, row, repeated=False, message=message)


def retry_pending_refunds(
    engine: Engine,
    who: Identity,
    request_id: int,
    stripe: StripeGateway,
    *,
    now: dt.datetime | None = None,
) -> list[RefundOutcome]:
    """Ask Stripe again about refunds that got no answer, with their original keys."""
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        request = own_request(session, who, request_id)
        waiting = session.exec(
            select(Refund).where(
                Refund.request_id == request_id,
                Refund.status == "pending",
                Refund.created_at <= now - REFUND_RETRY_AFTER,
            )
        ).all()
        intent_id = request.payment_intent_id
    outcomes = []
    for refund in waiting:
        try:
            outcomes.append(
                _ask_stripe_to_refund(engine, who, request_id, refund, intent_id, stripe)
            )
        except ActionError:
            continue
    return outcomes


# -- resend -----------------------------------------------------------------------------------
def no_texting_limits(session: Session, patient_id: int, now: dt.datetime) -> str | None:
    """Default hook: nothing holds a resend back. Caps and quiet hours plug in here."""
    return None


TextingCheck = Callable[[Session, int, dt.datetime], str | None]


@dataclass(frozen=True)
class ResendOutcome:
    request_id: int
    status: str
    sent: bool
    level: str  # "success" | "info" | "warning" | "error"
    message: str


def resend_request(
    engine: Engine,
    who: Identity,
    request_id: int,
    sms: SmsGateway,
    public_base_url: str,
    *,
    can_text_now: TextingCheck = no_texting_limits,
    now: dt.datetime | None = None,
) -> ResendOutcome:
    """Text the same pay link again (a new SmsMessage, purpose "resend").

    For `sent`, `payment_failed` and `overdue`. A request whose first text failed
    (`sms_failed`) goes through the request's own retry instead, so it moves on to
    `sent` when the text goes out. `can_text_now(session, patient_id, now)` returns a
    reason to hold the text back (quiet hours, caps) or None.
    A second Resend within two minutes sends nothing more.
    """
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        if request.status == S.SENDING:
            return ResendOutcome(
                request_id, request.status, False, "info", "The text is being sent right now."
            )
        if request.status not in RESENDABLE:
            raise ActionError("Only an unpaid request that was sent can be texted again.")
        patient = session.get(Patient, request.patient_id)
        assert patient is not None
        if patient.sms_opted_out:
            raise ActionError("This patient replied STOP to payment texts: no text can be sent.")
        if not patient.mobile_e164:
            raise ActionError("This patient has no mobile number.")
        held = can_text_now(session, patient.id or 0, now)
        if held:
            raise ActionError(held)
        if request.status == S.SMS_FAILED:
            requests.retry_sms(session, who, request_id, actor=_actor(who))
            session.commit()
            retry = True
        else:
            retry = False
            recent = session.exec(
                select(SmsMessage).where(
                    SmsMessage.request_id == request_id,
                    SmsMessage.purpose == "resend",
                    SmsMessage.created_at >= now - RESEND_DEDUPE_WINDOW,
                    SmsMessage.status != "failed",
                )
            ).first()
            if recent is not None:
                return ResendOutcome(
                    request_id,
                    request.status,
                    False,
                    "info",
                    "The text was sent again moments ago: nothing was sent twice.",
                )
            practice = session.get(Practice, request.practice_id)
            message = SmsMessage(
                practice_id=request.practice_id,
                patient_id=request.patient_id,
                request_id=request_id,
                purpose="resend",
                to_e164=patient.mobile_e164,
                body=request_text(
                    practice_name=practice.name if practice else "Your care team",
                    amount_cents=request.amount_cents,
                    due_date=request.due_date,
                    link=requests.pay_link(public_base_url, request.pay_token),
                ),
                status="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(message)
            session.commit()
            message_id, to, body = message.id, message.to_e164, message.body

    if retry:
        status = requests.deliver_request_sms(
            engine, request_id, sms, public_base_url=public_base_url
        )
        if status == S.SENT:
            return ResendOutcome(request_id, status, True, "success", "Payment request sent.")
        return ResendOutcome(
            request_id, status, False, "error", "The text could not be sent. Try again later."
        )

    sent = None
    error: SmsError | None = None
    try:
        try:
            sent = sms.send(to=to, body=body)
        except SmsError as exc:
            if exc.permanent:
                raise
            # Timed out: Twilio may have sent it anyway. Look before reporting a failure.
            sent = sms.find_sent(to=to, body=body, since=now - dt.timedelta(seconds=5))
            if sent is None:
                raise
    except SmsError as exc:
        error = exc

    with Session(engine, expire_on_commit=False) as session:
        request = _claim_own(session, who, request_id)
        message = session.get(SmsMessage, message_id)
        assert message is not None
        message.updated_at = utcnow()
        if sent is not None:
            message.twilio_sid = sent.sid
            message.status = sent.status or "queued"
            lifecycle.record_event(
                session,
                request,
                actor=_actor(who),
                kind="sms_resent",
                detail=f"SMS sent again ({sent.sid})",
            )
        else:
            assert error is not None
            message.status = "failed"
            message.error_code = str(error.code or "")
            lifecycle.record_event(
                session, request, actor="twilio", kind="sms_resend_failed", detail=str(error)
            )
        session.add(message)
        session.commit()
        if sent is not None:
            return ResendOutcome(request_id, request.status, True, "success", "Text sent again.")
        return ResendOutcome(
            request_id, request.status, False, "error", f"The text was not sent: {error}"
        )


# -- copy link --------------------------------------------------------------------------------
def pay_url_for(session: Session, who: Identity, request_id: int, public_base_url: str) -> str:
    """The patient's pay link, for Copy link (the token is secret: only on demand).

    Logged to the timeline (once per ten minutes, not per click); the caller commits.
    """
    request = own_request(session, who, request_id)
    if request.status == S.AWAITING_SETUP:
        raise ActionError("The link works once your Stripe setup is finished.")
    recent = session.exec(
        select(PaymentEvent.id).where(
            PaymentEvent.request_id == request_id,
            PaymentEvent.kind == "link_copied",
            PaymentEvent.actor == _actor(who),
            PaymentEvent.at >= utcnow() - LINK_COPY_LOG_WINDOW,
        )
    ).first()
    if recent is None:
        lifecycle.record_event(session, request, actor=_actor(who), kind="link_copied")
    return requests.pay_link(public_base_url, request.pay_token)


# -- Stripe Dashboard -------------------------------------------------------------------------
def stripe_dashboard_url(session: Session, who: Identity, stripe: StripeGateway) -> str:
    """A fresh single-use link into the clinician's own Stripe Express Dashboard (payouts,
    bank details). Made on each click: Stripe's login links expire within minutes."""
    account = connect.account_for(session, who.clinician_id)
    if account is None or not account.details_submitted:
        raise ActionError("Finish your Stripe setup first.")
    try:
        return stripe.create_login_link(account.stripe_account_id)
    except StripeGatewayError as exc:
        raise ActionError(f"Stripe did not open the dashboard: {exc}") from exc
