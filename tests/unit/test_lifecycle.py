import pytest
from sqlmodel import Session, select

from jotpay_app.models import PaymentEvent, RequestStatus
from jotpay_app.services import lifecycle
from tests import factories

S = RequestStatus

# The lifecycle table of the product spec, as (from, to) pairs that must be allowed.
SPEC_EDGES = {
    (S.AWAITING_SETUP, S.SENDING),
    (S.AWAITING_SETUP, S.CANCELED),
    (S.SENDING, S.SENT),
    (S.SENDING, S.SMS_FAILED),
    (S.SMS_FAILED, S.SENDING),
    (S.SMS_FAILED, S.PAID),
    (S.SMS_FAILED, S.CANCELED),
    (S.SENT, S.PAID),
    (S.SENT, S.PAYMENT_FAILED),
    (S.SENT, S.OVERDUE),
    (S.SENT, S.CANCELED),
    (S.PAYMENT_FAILED, S.PAID),
    (S.PAYMENT_FAILED, S.OVERDUE),
    (S.PAYMENT_FAILED, S.CANCELED),
    (S.OVERDUE, S.PAID),
    (S.OVERDUE, S.CANCELED),
    (S.PAID, S.PARTIALLY_REFUNDED),
    (S.PAID, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
    (S.PARTIALLY_REFUNDED, S.REFUNDED),
    (S.CANCELED, S.PAID),
}
# Money is never ignored: a payment is recorded from any unpaid status.
EXTRA_PAID = {(S.SENDING, S.PAID), (S.AWAITING_SETUP, S.PAID)}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_spec_transitions_are_allowed(source: S, target: S) -> None:
    expected = (source, target) in SPEC_EDGES | EXTRA_PAID
    assert lifecycle.can_transition(source, target) is expected


@pytest.fixture
def request_row(session: Session):
    p = factories.practice(session)
    c = factories.clinician(session, p.id)
    pat = factories.patient(session, p.id)
    return factories.payment_request(session, p.id, c.id, pat.id, status=S.SENT)


def test_transition_appends_an_event_and_replay_changes_nothing(session: Session, request_row):
    assert lifecycle.transition(session, request_row, S.PAID, actor="stripe", kind="paid")
    assert not lifecycle.transition(session, request_row, S.PAID, actor="stripe", kind="paid")
    session.flush()
    events = session.exec(
        select(PaymentEvent).where(PaymentEvent.request_id == request_row.id)
    ).all()
    assert [(e.kind, e.from_status, e.to_status, e.actor) for e in events] == [
        ("paid", "sent", "paid", "stripe")
    ]


def test_forbidden_transition_raises_and_keeps_status(session: Session, request_row) -> None:
    lifecycle.transition(session, request_row, S.CANCELED, actor="clinician:1", kind="canceled")
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.transition(session, request_row, S.SENT, actor="system", kind="x")
    assert request_row.status == S.CANCELED
