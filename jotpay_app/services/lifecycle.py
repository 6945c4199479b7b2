"""The one state machine of a payment request (SPEC "One lifecycle").

Every change goes through `transition`, which checks the table below, appends a
`PaymentEvent`, and does nothing when the request is already in the target status —
so replaying a change (a webhook twice, a double click) changes nothing.
"""

from __future__ import annotations

from sqlmodel import Session, select

from jotpay_app.models import PaymentEvent, PaymentRequest, RequestStatus, utcnow

S = RequestStatus

ALLOWED: dict[str, frozenset[str]] = {
    S.AWAITING_SETUP: frozenset({S.SENDING, S.CANCELED}),
    S.SENDING: frozenset({S.SENT, S.SMS_FAILED}),
    S.SMS_FAILED: frozenset({S.SENDING, S.PAID, S.CANCELED}),
    S.SENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.OVERDUE, S.CANCELED}),
    S.PAYMENT_FAILED: frozenset({S.PAID, S.OVERDUE, S.CANCELED}),
    S.OVERDUE: frozenset({S.PAID, S.CANCELED}),
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.CANCELED: frozenset({S.PAID}),
}

# Money that arrives is never ignored: a payment is recorded from any unpaid status
# (e.g. `sending` when the text went out but the process died before recording it).
PAYABLE_FROM = frozenset(
    {S.AWAITING_SETUP, S.SENDING, S.SMS_FAILED, S.SENT, S.PAYMENT_FAILED, S.OVERDUE, S.CANCELED}
)


class InvalidTransition(ValueError):
    pass


def lock_request(session: Session, request_id: int) -> PaymentRequest | None:
    """Load a request holding its row lock until commit (PostgreSQL; SQLite locks on write)."""
    return session.exec(
        select(PaymentRequest)
        .where(PaymentRequest.id == request_id)
        .with_for_update()
        # Re-read the row even if this session already holds the object: the values
        # loaded before the lock may be stale (another transaction just committed).
        .execution_options(populate_existing=True)
    ).first()


def record_event(
    session: Session,
    request: PaymentRequest,
    *,
    actor: str,
    kind: str,
    detail: str = "",
    from_status: str = "",
    to_status: str = "",
) -> PaymentEvent:
    event = PaymentEvent(
        request_id=request.id or 0,
        actor=actor,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail=detail[:500],
        at=utcnow(),
    )
    session.add(event)
    return event


def can_transition(current: str, target: str) -> bool:
    if target == S.PAID:
        return current in PAYABLE_FROM
    return target in ALLOWED.get(current, frozenset())


def transition(
    session: Session,
    request: PaymentRequest,
    target: str,
    *,
    actor: str,
    kind: str,
    detail: str = "",
) -> bool:
    """Move `request` to `target`; False (and no change) when it is already there."""
    current = request.status
    if current == target and target != S.PARTIALLY_REFUNDED:
        return False
    if not can_transition(current, target):
        raise InvalidTransition(f"{current} -> {target}")
    request.status = target
    request.updated_at = utcnow()
    session.add(request)
    record_event(
        session,
        request,
        actor=actor,
        kind=kind,
        detail=detail,
        from_status=current,
        to_status=target,
    )
    return True
