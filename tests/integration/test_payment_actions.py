"""Cancel, refund, resend and copy link: limits, idempotency, scoping, the timeline, and
concurrent clicks on real databases. Stripe and Twilio are small recording fakes here,
except in the last tests, which go through the real SDK to the local Stripe stand-in."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jotpay_app.models import (
    Clinician,
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    Refund,
    SmsMessage,
    StripeAccount,
    utcnow,
)
from jotpay_app.services import actions, paylink, webhooks
from jotpay_app.services.actions import (
    ActionError,
    cancel_request,
    pay_url_for,
    refund_request,
    resend_request,
    retry_pending_refunds,
    stripe_dashboard_url,
)
from jotpay_app.services.auth import Identity
from jotpay_app.services.dashboard import RequestQuery, query_requests, timeline
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown
from jotpay_app.services.sms import SentSms, SmsError
from jotpay_app.services.stripe_gateway import (
    CheckoutSession,
    RefundResult,
    StripeGatewayError,
    idempotency_key,
)
from tests.integration.conftest import AppEnv
from tests.payment_world import World, add_request, poll, request_row

pytestmark = pytest.mark.timeout(60)
BASE = "https://pay.example.test"
TZ = "America/New_York"


# -- fakes ------------------------------------------------------------------------------------
@dataclass
class FakeStripe:
    """The StripeGateway methods the actions use; records calls, answers like Stripe."""

    charged: dict[str, int] = field(default_factory=dict)  # payment intent -> amount
    refunds: dict[str, RefundResult] = field(default_factory=dict)  # idempotency key -> refund
    calls: list[tuple[str, Any]] = field(default_factory=list)
    refund_error: StripeGatewayError | None = None
    expire_error: StripeGatewayError | None = None
    session_status: str = "open"
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refunded(self, intent: str) -> int:
        return sum(r.amount for k, r in self.refunds.items() if k.endswith(f"|{intent}"))

    def create_refund(
        self, *, payment_intent_id: str, amount_cents: int, key: str, metadata: dict[str, str]
    ) -> RefundResult:
        with self.lock:
            self.calls.append(("refund", (payment_intent_id, amount_cents, key, metadata)))
        time.sleep(self.delay)
        if self.refund_error is not None:
            raise self.refund_error
        with self.lock:
            scoped = f"{key}|{payment_intent_id}"
            if scoped in self.refunds:
                return self.refunds[scoped]
            left = self.charged[payment_intent_id] - self.refunded(payment_intent_id)
            if amount_cents > left:
                raise StripeGatewayError(
                    "Refund amount is greater than unrefunded amount", transient=False
                )
            result = RefundResult(
                id="re_" + secrets.token_hex(6), amount=amount_cents, status="succeeded"
            )
            self.refunds[scoped] = result
            return result

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        self.calls.append(("expire", session_id))
        if self.expire_error is not None:
            raise self.expire_error
        self.session_status = "expired"
        return self.retrieve_checkout_session(session_id)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        self.calls.append(("retrieve", session_id))
        return CheckoutSession(
            id=session_id,
            url="",
            status=self.session_status,
            payment_status="unpaid",
            expires_at=utcnow(),
            payment_intent_id="",
            amount_total=0,
            metadata={},
        )

    def of(self, kind: str) -> list[Any]:
        return [args for name, args in self.calls if name == kind]


@dataclass
class FakeSms:
    sent: list[tuple[str, str]] = field(default_factory=list)
    error: SmsError | None = None

    def send(self, *, to: str, body: str) -> SentSms:
        if self.error is not None:
            raise self.error
        self.sent.append((to, body))
        return SentSms(sid=f"SM{len(self.sent):032d}", status="queued")

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> SentSms | None:
        return None


# -- a practice with two clinicians ----------------------------------------------------------
@dataclass
class Desk:
    engine: Engine
    who: Identity
    colleague: Identity
    patient_id: int

    def add(self, status: str = "sent", amount: int = 5000, **fields: Any) -> int:
        fees = breakdown(amount)
        with Session(self.engine, expire_on_commit=False) as session:
            row = PaymentRequest(
                practice_id=self.who.practice_id,
                clinician_id=fields.pop("clinician_id", self.who.clinician_id),
                patient_id=self.patient_id,
                invoice_number=take_invoice_number(session, self.who.practice_id),
                amount_cents=amount,
                fee_cents=fees.fee_cents,
                net_cents=fees.net_cents,
                reason="Session fee",
                due_date=dt.date(2026, 3, 20),
                status=status,
                pay_token=secrets.token_urlsafe(16),
                submit_key=secrets.token_hex(16),
                paid_at=utcnow() if status in actions.PAID_LIKE else None,
                payment_intent_id="pi_" + secrets.token_hex(8)
                if status in actions.PAID_LIKE
                else "",
                **fields,
            )
            session.add(row)
            session.commit()
            return row.id or 0

    def paid(self, stripe: FakeStripe, amount: int = 5000) -> int:
        request_id = self.add("paid", amount)
        stripe.charged[self.row(request_id).payment_intent_id] = amount
        return request_id

    def row(self, request_id: int) -> PaymentRequest:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(PaymentRequest, request_id)
            assert row is not None
            return row

    def refunds(self, request_id: int) -> list[Refund]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(Refund).where(Refund.request_id == request_id).order_by(Refund.number)
                ).all()
            )

    def kinds(self, request_id: int) -> list[str]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(PaymentEvent.kind)
                    .where(PaymentEvent.request_id == request_id)
                    .order_by(PaymentEvent.id)
                ).all()
            )

    def texts(self, request_id: int) -> list[SmsMessage]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(SmsMessage)
                    .where(SmsMessage.request_id == request_id)
                    .order_by(SmsMessage.id)
                ).all()
            )


def identity(clinician: Clinician, practice: Practice) -> Identity:
    return Identity(
        clinician_id=clinician.id or 0,
        practice_id=practice.id or 0,
        clinician_name=clinician.full_name,
        email=clinician.email,
        practice_name=practice.name,
        practice_timezone=practice.timezone,
    )


@pytest.fixture
def desk(engine: Engine) -> Desk:
    with Session(engine, expire_on_commit=False) as session:
        practice = Practice(name="Riverside Counseling", timezone=TZ)
        session.add(practice)
        session.flush()
        me = Clinician(
            practice_id=practice.id or 0,
            email=f"me{secrets.token_hex(3)}@example.com",
            full_name="Dr. Ana Rivera",
            password_hash="!",
        )
        other = Clinician(
            practice_id=practice.id or 0,
            email=f"other{secrets.token_hex(3)}@example.com",
            full_name="Dr. Ben Cho",
            password_hash="!",
        )
        patient = Patient(
            practice_id=practice.id or 0,
            first_name="Maria",
            last_name="Okonkwo",
            mobile_e164="+16175550142",
            sms_consent_at=utcnow(),
            sms_consent_method="Verbally, in session",
        )
        session.add_all([me, other, patient])
        session.flush()
        session.add(
            StripeAccount(
                clinician_id=me.id or 0, stripe_account_id="acct_me", charges_enabled=True
            )
        )
        session.commit()
        return Desk(engine, identity(me, practice), identity(other, practice), patient.id or 0)


def key() -> str:
    return secrets.token_urlsafe(12)


# -- refund -----------------------------------------------------------------------------------
def test_partial_then_full_refund_reverses_and_records_each_step(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 18000)
    first = refund_request(desk.engine, desk.who, request_id, 2000, stripe, key())
    assert (first.refund_status, first.request_status, first.number) == (
        "succeeded",
        "partially_refunded",
        1,
    )
    assert "fee is not returned" in first.message
    second = refund_request(desk.engine, desk.who, request_id, "$160.00", stripe, key())
    assert (second.request_status, second.amount_refunded_cents, second.number) == (
        "refunded",
        18000,
        2,
    )
    calls = stripe.of("refund")
    assert [c[1] for c in calls] == [2000, 16000]
    refunds = desk.refunds(request_id)
    assert [(r.status, r.amount_cents) for r in refunds] == [
        ("succeeded", 2000),
        ("succeeded", 16000),
    ]
    # Stripe's idempotency key is derived from the refund row, one per refund.
    assert [c[2] for c in calls] == [
        idempotency_key("refund", r.id or 0, r.created_at) for r in refunds
    ]
    assert calls[0][3] == {
        "jotpay_request_id": str(request_id),
        "jotpay_refund_id": str(refunds[0].id),
    }
    assert desk.kinds(request_id).count("refund_requested") == 2
    assert desk.kinds(request_id).count("refund_succeeded") == 2
    with Session(desk.engine) as session:
        whats = [e.what for e in timeline(session, desk.who.clinician_id, request_id, TZ)]
    assert whats == ["Refund requested", "Refunded", "Refund requested", "Refunded"]
    # Fully refunded: a third refund is refused before Stripe hears of it.
    with pytest.raises(FieldErrors) as refused:
        refund_request(desk.engine, desk.who, request_id, 1, stripe, key())
    assert "nothing is left" in refused.value.errors["amount"]
    assert len(stripe.of("refund")) == 2


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (5001, "At most $50.00 is left to refund."),
        ("50.01", "At most $50.00 is left to refund."),
        (0, "Enter an amount of at least $0.01."),
        (-5, "Enter an amount of at least $0.01."),
        ("", "Enter an amount."),
        ("ten", "Enter an amount in dollars, like 50 or 50.00."),
    ],
)
def test_a_bad_refund_amount_is_refused_and_nothing_reaches_stripe(
    desk: Desk, amount: int | str, message: str
) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 5000)
    with pytest.raises(FieldErrors) as refused:
        refund_request(desk.engine, desk.who, request_id, amount, stripe, key())
    assert refused.value.errors == {"amount": message}
    assert stripe.calls == [] and desk.refunds(request_id) == []
    assert desk.row(request_id).status == "paid"


def test_what_is_left_shrinks_after_a_partial_refund(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 5000)
    refund_request(desk.engine, desk.who, request_id, 2000, stripe, key())
    with pytest.raises(FieldErrors) as refused:
        refund_request(desk.engine, desk.who, request_id, 3001, stripe, key())
    assert refused.value.errors["amount"] == "At most $30.00 is left to refund."
    assert len(stripe.of("refund")) == 1


def test_a_second_click_on_the_same_confirmation_refunds_nothing_more(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 5000)
    confirm = key()
    first = refund_request(desk.engine, desk.who, request_id, 2000, stripe, confirm)
    again = refund_request(desk.engine, desk.who, request_id, 2000, stripe, confirm)
    assert (again.repeated, again.refund_id, again.refund_status) == (
        True,
        first.refund_id,
        "succeeded",
    )
    assert "nothing more" in again.message
    assert len(stripe.of("refund")) == 1 and len(desk.refunds(request_id)) == 1
    assert desk.row(request_id).amount_refunded_cents == 2000


def test_only_a_paid_request_of_ones_own_can_be_refunded(desk: Desk) -> None:
    stripe = FakeStripe()
    with pytest.raises(ActionError):
        refund_request(desk.engine, desk.who, desk.add("sent"), 100, stripe, key())
    theirs = desk.add("paid", clinician_id=desk.colleague.clinician_id)
    with pytest.raises(NotFoundError):
        refund_request(desk.engine, desk.who, theirs, 100, stripe, key())
    with pytest.raises(NotFoundError):
        refund_request(desk.engine, desk.who, 987_654, 100, stripe, key())
    assert stripe.calls == []


def test_stripe_refusing_marks_the_refund_failed_and_frees_the_amount(desk: Desk) -> None:
    stripe = FakeStripe(refund_error=StripeGatewayError("Charge disputed", transient=False))
    request_id = desk.paid(stripe, 5000)
    with pytest.raises(ActionError, match="Stripe refused the refund: Charge disputed"):
        refund_request(desk.engine, desk.who, request_id, 5000, stripe, key())
    [failed] = desk.refunds(request_id)
    assert (failed.status, failed.failure_reason) == ("failed", "Charge disputed")
    assert desk.row(request_id).status == "paid" and "refund_failed" in desk.kinds(request_id)
    stripe.refund_error = None
    done = refund_request(desk.engine, desk.who, request_id, 5000, stripe, key())
    assert (done.request_status, done.number) == ("refunded", 2)


def test_no_answer_from_stripe_keeps_the_refund_pending_until_retried(desk: Desk) -> None:
    stripe = FakeStripe(refund_error=StripeGatewayError("Stripe did not answer.", transient=True))
    request_id = desk.paid(stripe, 5000)
    with pytest.raises(ActionError, match="nothing is refunded twice"):
        refund_request(desk.engine, desk.who, request_id, 3000, stripe, key())
    [pending] = desk.refunds(request_id)
    assert pending.status == "pending"
    # Another refund waits: Stripe may have made the first one.
    with pytest.raises(ActionError, match="still waiting"):
        refund_request(desk.engine, desk.who, request_id, 1000, stripe, key())
    stripe.refund_error = None
    assert retry_pending_refunds(desk.engine, desk.who, request_id, stripe) == []  # too soon
    [retried] = retry_pending_refunds(
        desk.engine, desk.who, request_id, stripe, now=utcnow() + dt.timedelta(minutes=2)
    )
    assert (retried.refund_status, retried.request_status) == ("succeeded", "partially_refunded")
    keys = [c[2] for c in stripe.of("refund")]
    assert len(keys) == 2 and len(set(keys)) == 1  # the same key both times


def test_the_charge_refunded_webhook_after_an_app_refund_changes_nothing(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 5000)
    refund_request(desk.engine, desk.who, request_id, 2000, stripe, key())
    before = desk.kinds(request_id)
    event = {
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {
            "object": {
                "payment_intent": desk.row(request_id).payment_intent_id,
                "amount_refunded": 2000,
            }
        },
    }
    with Session(desk.engine) as session:
        assert webhooks.apply_stripe_event(session, event) == "already recorded"
        session.commit()
    assert desk.kinds(request_id) == before
    assert desk.row(request_id).amount_refunded_cents == 2000


def test_a_webhook_that_lands_first_is_not_counted_twice(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.paid(stripe, 5000)
    intent = desk.row(request_id).payment_intent_id
    real_refund = stripe.create_refund

    def refund_then_webhook(**kwargs: Any) -> RefundResult:
        result = real_refund(**kwargs)
        event = {
            "type": "charge.refunded",
            "created": int(time.time()),
            "data": {"object": {"payment_intent": intent, "amount_refunded": 2000}},
        }
        with Session(desk.engine) as session:
            webhooks.apply_stripe_event(session, event)
            session.commit()
        return result

    stripe.create_refund = refund_then_webhook  # type: ignore[method-assign]
    outcome = refund_request(desk.engine, desk.who, request_id, 2000, stripe, key())
    assert (outcome.amount_refunded_cents, outcome.request_status) == (2000, "partially_refunded")
    assert desk.row(request_id).amount_refunded_cents == 2000


def run_together(*calls: Any) -> list[Any]:
    """Run each call in its own thread, released at the same moment; results or errors."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_refunds_of_what_is_left_refund_it_once(desk: Desk) -> None:
    stripe = FakeStripe(delay=0.2)
    request_id = desk.paid(stripe, 5000)
    refund_request(desk.engine, desk.who, request_id, 1000, stripe, key())
    results = run_together(
        *[
            (lambda: refund_request(desk.engine, desk.who, request_id, 4000, stripe, key()))
            for _ in range(4)
        ]
    )
    succeeded = [r for r in results if isinstance(r, actions.RefundOutcome)]
    refused = [r for r in results if isinstance(r, (FieldErrors, ActionError))]
    assert len(succeeded) == 1 and len(refused) == 3, results
    assert len(stripe.of("refund")) == 2
    row = desk.row(request_id)
    assert (row.amount_refunded_cents, row.status) == (5000, "refunded")
    assert sum(r.amount_cents for r in desk.refunds(request_id) if r.status == "succeeded") == 5000


def test_a_double_click_racing_itself_makes_one_refund(desk: Desk) -> None:
    stripe = FakeStripe(delay=0.2)
    request_id = desk.paid(stripe, 5000)
    confirm = key()
    results = run_together(
        *[
            (lambda: refund_request(desk.engine, desk.who, request_id, 5000, stripe, confirm))
            for _ in range(3)
        ]
    )
    assert all(isinstance(r, actions.RefundOutcome) for r in results), results
    assert len({r.refund_id for r in results}) == 1
    assert sorted(r.repeated for r in results) == [False, True, True]
    assert len(stripe.of("refund")) == 1 and len(desk.refunds(request_id)) == 1


def test_concurrent_refunds_on_postgresql_with_separate_connections(pg_engine: Engine) -> None:
    """PostgreSQL: real row locks, one connection per click."""
    with Session(pg_engine, expire_on_commit=False) as session:
        practice = Practice(name="P", timezone=TZ)
        session.add(practice)
        session.flush()
        me = Clinician(
            practice_id=practice.id or 0,
            email="pg@example.com",
            full_name="Dr. P",
            password_hash="!",
        )
        patient = Patient(practice_id=practice.id or 0, first_name="A", last_name="B")
        session.add_all([me, patient])
        session.commit()
        desk = Desk(pg_engine, identity(me, practice), identity(me, practice), patient.id or 0)
    stripe = FakeStripe(delay=0.1)
    request_id = desk.paid(stripe, 9000)
    results = run_together(
        *[
            (lambda: refund_request(pg_engine, desk.who, request_id, 9000, stripe, key()))
            for _ in range(6)
        ]
    )
    assert sum(isinstance(r, actions.RefundOutcome) for r in results) == 1, results
    # The others were refused with a message (waited for the lock, saw nothing left),
    # not stopped by a constraint error.
    assert sum(isinstance(r, (FieldErrors, ActionError)) for r in results) == 5, results
    assert len(stripe.of("refund")) == 1
    assert desk.row(request_id).amount_refunded_cents == 9000


# -- cancel -----------------------------------------------------------------------------------
def test_cancel_expires_the_open_checkout_and_the_link_is_no_longer_valid(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.add(
        "sent",
        checkout_session_id="cs_test_1",
        checkout_url="https://checkout.example/cs_test_1",
        checkout_expires_at=utcnow() + dt.timedelta(hours=20),
    )
    outcome = cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    assert (outcome.status, outcome.changed, outcome.level) == ("canceled", True, "success")
    assert stripe.of("expire") == ["cs_test_1"]
    row = desk.row(request_id)
    assert row.status == "canceled" and row.canceled_at is not None
    assert (row.checkout_session_id, row.checkout_url) == ("", "")
    assert desk.kinds(request_id) == ["canceled", "checkout_expired"]
    with Session(desk.engine) as session:
        link = paylink.open_link(session, row.pay_token, stripe, public_base_url=BASE)  # type: ignore[arg-type]
    assert link.kind == "invalid"
    again = cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    assert (again.changed, again.level) == (False, "info")
    assert stripe.of("expire") == ["cs_test_1"] and desk.kinds(request_id).count("canceled") == 1


def test_cancel_when_stripe_does_not_answer_stays_canceled_and_retries_later(desk: Desk) -> None:
    stripe = FakeStripe(expire_error=StripeGatewayError("Stripe did not answer.", transient=True))
    request_id = desk.add("overdue", checkout_session_id="cs_test_2", checkout_url="u")
    outcome = cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    assert (outcome.status, outcome.level) == ("canceled", "warning")
    assert desk.row(request_id).checkout_session_id == "cs_test_2"  # kept for the retry
    assert desk.kinds(request_id) == ["canceled", "checkout_expire_failed"]
    stripe.expire_error = None
    retry = cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    assert retry.changed is False and retry.level == "info"
    assert desk.row(request_id).checkout_session_id == ""
    assert stripe.of("expire") == ["cs_test_2", "cs_test_2"]


def test_a_session_stripe_already_closed_counts_as_expired(desk: Desk) -> None:
    stripe = FakeStripe(
        expire_error=StripeGatewayError("Only open sessions can be expired", transient=False),
        session_status="expired",
    )
    request_id = desk.add("sent", checkout_session_id="cs_test_3", checkout_url="u")
    outcome = cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    assert outcome.level == "success" and desk.row(request_id).checkout_session_id == ""


def test_a_payment_after_cancel_is_recorded_and_flagged(desk: Desk) -> None:
    stripe = FakeStripe()
    request_id = desk.add("sent")
    cancel_request(desk.engine, desk.who, request_id, stripe)  # type: ignore[arg-type]
    event = {
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "cs_late",
                "payment_status": "paid",
                "amount_total": 5000,
                "payment_intent": "pi_late",
                "metadata": {"jotpay_request_id": str(request_id)},
            }
        },
    }
    with Session(desk.engine) as session:
        assert webhooks.apply_stripe_event(session, event) == "paid"
        session.commit()
        flagged = query_requests(
            session,
            RequestQuery(clinician_id=desk.who.clinician_id, tz=TZ, statuses=("needs_attention",)),
        )
    assert [r.id for r in flagged.rows] == [request_id] and flagged.rows[0].needs_attention
    stripe.charged["pi_late"] = 5000
    refund_request(desk.engine, desk.who, request_id, 5000, stripe, key())
    assert desk.row(request_id).needs_attention is False


@pytest.mark.parametrize("status", ["paid", "refunded", "sending"])
def test_only_open_requests_can_be_canceled(desk: Desk, status: str) -> None:
    request_id = desk.add(status)
    with pytest.raises(ActionError):
        cancel_request(desk.engine, desk.who, request_id, FakeStripe())  # type: ignore[arg-type]
    assert desk.row(request_id).status == status


def test_cancel_of_a_colleagues_request_is_not_found(desk: Desk) -> None:
    theirs = desk.add("sent", clinician_id=desk.colleague.clinician_id)
    with pytest.raises(NotFoundError):
        cancel_request(desk.engine, desk.who, theirs, FakeStripe())  # type: ignore[arg-type]
    assert desk.row(theirs).status == "sent"


# -- resend -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["sent", "payment_failed", "overdue"])
def test_resend_texts_the_same_link_once_per_click(desk: Desk, status: str) -> None:
    sms = FakeSms()
    request_id = desk.add(status)
    outcome = resend_request(desk.engine, desk.who, request_id, sms, BASE)  # type: ignore[arg-type]
    assert (outcome.sent, outcome.level, outcome.status) == (True, "success", status)
    [(to, body)] = sms.sent
    assert to == "+16175550142" and f"{BASE}/pay/{desk.row(request_id).pay_token}" in body
    assert "Riverside Counseling" in body and "Maria" not in body
    [text] = desk.texts(request_id)
    assert (text.purpose, text.status, text.body) == ("resend", "queued", body)
    assert desk.kinds(request_id) == ["sms_resent"]
    again = resend_request(desk.engine, desk.who, request_id, sms, BASE)  # type: ignore[arg-type]
    assert (again.sent, again.level) == (False, "info")
    assert len(sms.sent) == 1


def test_resend_failure_is_recorded(desk: Desk) -> None:
    sms = FakeSms(error=SmsError("This number cannot receive texts.", permanent=True, code=21612))
    request_id = desk.add("sent")
    outcome = resend_request(desk.engine, desk.who, request_id, sms, BASE)  # type: ignore[arg-type]
    assert (outcome.sent, outcome.level) == (False, "error")
    assert "cannot receive texts" in outcome.message
    [text] = desk.texts(request_id)
    assert (text.status, text.error_code) == ("failed", "21612")
    assert desk.kinds(request_id) == ["sms_resend_failed"]
    sms.error = None  # a failed text does not block the next try
    assert resend_request(desk.engine, desk.who, request_id, sms, BASE).sent  # type: ignore[arg-type]


def test_resend_of_a_failed_first_text_retries_the_request(desk: Desk) -> None:
    sms = FakeSms()
    request_id = desk.add("sms_failed")
    outcome = resend_request(desk.engine, desk.who, request_id, sms, BASE)  # type: ignore[arg-type]
    assert (outcome.status, outcome.sent) == ("sent", True)
    assert [t.purpose for t in desk.texts(request_id)] == ["request"]
    assert desk.kinds(request_id) == ["sms_retry", "sms_sent"]


def test_resend_is_held_back_by_the_texting_hook_and_refused_when_not_possible(
    desk: Desk,
) -> None:
    sms = FakeSms()
    request_id = desk.add("sent")
    seen: list[int] = []

    def quiet_hours(_session: Session, patient_id: int, _now: dt.datetime) -> str | None:
        seen.append(patient_id)
        return "Quiet hours: texts go out after 8 AM."

    with pytest.raises(ActionError, match="Quiet hours"):
        resend_request(desk.engine, desk.who, request_id, sms, BASE, can_text_now=quiet_hours)  # type: ignore[arg-type]
    assert seen == [desk.patient_id] and sms.sent == [] and desk.texts(request_id) == []
    with pytest.raises(ActionError):
        resend_request(desk.engine, desk.who, desk.add("paid"), sms, BASE)  # type: ignore[arg-type]
    with Session(desk.engine) as session:
        patient = session.get(Patient, desk.patient_id)
        assert patient is not None
        patient.sms_opted_out = True
        session.add(patient)
        session.commit()
    with pytest.raises(ActionError, match="STOP"):
        resend_request(desk.engine, desk.who, request_id, sms, BASE)  # type: ignore[arg-type]
    theirs = desk.add("sent", clinician_id=desk.colleague.clinician_id)
    with pytest.raises(NotFoundError):
        resend_request(desk.engine, desk.who, theirs, sms, BASE)  # type: ignore[arg-type]
    assert sms.sent == []


# -- copy link --------------------------------------------------------------------------------
def test_copy_link_gives_the_pay_link_and_logs_it_once(desk: Desk) -> None:
    request_id = desk.add("sent")
    token = desk.row(request_id).pay_token
    for _ in range(3):
        with Session(desk.engine) as session:
            assert pay_url_for(session, desk.who, request_id, BASE) == f"{BASE}/pay/{token}"
            session.commit()
    assert desk.kinds(request_id) == ["link_copied"]
    with Session(desk.engine) as session, pytest.raises(NotFoundError):
        pay_url_for(session, desk.colleague, request_id, BASE)


# -- Stripe Dashboard -------------------------------------------------------------------------
def test_stripe_dashboard_needs_a_finished_setup(desk: Desk) -> None:
    class LoginLinks:
        accounts: list[str] = []

        def create_login_link(self, account_id: str) -> str:
            self.accounts.append(account_id)
            return f"https://connect.example/express/{account_id}"

    stripe = LoginLinks()
    with Session(desk.engine) as session:
        with pytest.raises(ActionError, match="Finish your Stripe setup"):
            stripe_dashboard_url(session, desk.who, stripe)  # type: ignore[arg-type]
        account = session.exec(
            select(StripeAccount).where(StripeAccount.clinician_id == desk.who.clinician_id)
        ).one()
        account.details_submitted = True
        session.add(account)
        session.commit()
        url = stripe_dashboard_url(session, desk.who, stripe)  # type: ignore[arg-type]
        assert url == "https://connect.example/express/acct_me"
        with pytest.raises(ActionError):
            stripe_dashboard_url(session, desk.colleague, stripe)  # type: ignore[arg-type]
    assert stripe.accounts == ["acct_me"]


# -- through the real Stripe SDK, against the local stand-in -----------------------------------
def paid_through_stripe(app_env: AppEnv, world: World, amount: int = 5000) -> PaymentRequest:
    """A request paid by a real PaymentIntent; its webhook records the payment."""
    request = add_request(world, status="sent", amount_cents=amount)
    fees = breakdown(amount)
    result = app_env.stripe.create_confirmed_payment(
        key=idempotency_key("test-payment", request.id or 0, request.created_at),
        amount_cents=amount,
        application_fee_cents=fees.fee_cents,
        destination_account=world.account_id,
        payment_method="pm_card_visa",
        metadata={"jotpay_request_id": str(request.id)},
    )
    assert result["status"] == "succeeded", result
    return poll(
        lambda: (row := request_row(world.engine, request.id or 0)).status == "paid" and row,
        what="payment recorded by the webhook",
    )


def test_real_refund_through_the_sdk_is_counted_once_with_stripes_webhook(
    app_env: AppEnv, world: World
) -> None:
    request = paid_through_stripe(app_env, world, 18000)
    confirm = key()
    first = refund_request(world.engine, world.who, request.id or 0, 2000, app_env.stripe, confirm)
    assert (first.refund_status, first.request_status) == ("succeeded", "partially_refunded")
    app_env.sandbox.wait_webhooks_idle()
    assert app_env.sandbox.deliveries_of("charge.refunded"), "Stripe sent charge.refunded"
    row = request_row(world.engine, request.id or 0)
    assert (row.amount_refunded_cents, row.status) == (2000, "partially_refunded")
    # Stripe's charge.refunded webhook races the app's own record of Stripe's answer; in
    # either order the refund is counted once (the amounts above). That a webhook landing
    # after it is a no-op is shown deterministically with the fake gateway above.
    # The same confirmation again: nothing more; more than is left: refused before Stripe.
    again = refund_request(world.engine, world.who, request.id or 0, 2000, app_env.stripe, confirm)
    assert again.repeated and again.refund_id == first.refund_id
    with pytest.raises(FieldErrors):
        refund_request(world.engine, world.who, request.id or 0, 16001, app_env.stripe, key())
    rest = refund_request(world.engine, world.who, request.id or 0, "160", app_env.stripe, key())
    assert (rest.request_status, rest.amount_refunded_cents) == ("refunded", 18000)
    # Stripe itself agrees: the whole charge is refunded, the fee kept.
    sdk_refunds = app_env.stripe._client.v1.refunds.list({"payment_intent": row.payment_intent_id})
    assert sorted(r["amount"] for r in sdk_refunds.data) == [2000, 16000]


def test_real_cancel_expires_the_checkout_session_and_the_link_says_no_longer_valid(
    app_env: AppEnv, world: World
) -> None:
    request = add_request(world, status="sent")
    opened = app_env.http.get(f"{app_env.api}/pay/{request.pay_token}")
    assert opened.status_code in (302, 303), opened.text
    session_id = request_row(world.engine, request.id or 0).checkout_session_id
    assert session_id.startswith("cs_")
    outcome = cancel_request(world.engine, world.who, request.id or 0, app_env.stripe)
    assert outcome.level == "success"
    assert app_env.stripe.retrieve_checkout_session(session_id).status == "expired"
    again = app_env.http.get(f"{app_env.api}/pay/{request.pay_token}")
    assert again.status_code == 410 and "no longer valid" in again.text


def test_real_stripe_dashboard_link(app_env: AppEnv, world: World) -> None:
    with Session(world.engine) as session:
        url = stripe_dashboard_url(session, world.who, app_env.stripe)
    assert url.startswith(app_env.sandbox.base_url) or url.startswith("https://")
    assert app_env.http.get(url, follow_redirects=True).status_code == 200
