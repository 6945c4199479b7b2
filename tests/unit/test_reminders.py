"""Overdue marking, reminders, caps and quiet hours, missed webhooks — driven by a given
clock on a throwaway SQLite database, with fake Twilio and Stripe gateways."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jotpay_app import scheduler
from jotpay_app.models import (
    Clinician,
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    ReminderRecord,
    SmsMessage,
)
from jotpay_app.services import lifecycle, paylink, reminders, sms_caps
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.money import breakdown
from jotpay_app.services.reminders import (
    due_reminder_number,
    mark_overdue,
    parse_reminder_days,
    reminder_due_at,
    send_reminder_now,
    sweep,
)
from jotpay_app.services.sms import SentSms, SmsError
from jotpay_app.services.stripe_gateway import CheckoutSession, StripeGatewayError

NY = "America/New_York"
LA = "America/Los_Angeles"
BASE_URL = "https://pay.example.test"
PRACTICE_NAME = "Riverside Counseling"
REASON = "Copay for CBT session re: panic disorder"
DUE = dt.date(2026, 5, 4)  # a Monday, EDT


def at(tz: str, day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """A practice-local wall-clock moment, as aware UTC."""
    local = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZoneInfo(tz))
    return local.astimezone(dt.UTC)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# -- fakes --------------------------------------------------------------------------------------
@dataclass
class FakeText:
    sid: str
    to: str
    body: str


@dataclass
class FakeSms:
    """Stands in for SmsGateway: records texts; `errors` are raised by the next sends.

    `find_sent` ignores `since`: the fake's texts carry no clock of their own."""

    texts: list[FakeText] = field(default_factory=list)
    errors: list[SmsError] = field(default_factory=list)
    lookups: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def send(self, *, to: str, body: str) -> SentSms:
        with self._lock:
            if self.errors:
                raise self.errors.pop(0)
            text = FakeText(f"SM{next(self._sids):032x}", to, body)
            self.texts.append(text)
        return SentSms(sid=text.sid, status="queued")

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> SentSms | None:
        with self._lock:
            self.lookups += 1
            for text in self.texts:
                if text.to == to and text.body == body:
                    return SentSms(sid=text.sid, status="delivered")
        return None


@dataclass
class FakeStripe:
    """Stands in for StripeGateway.retrieve_checkout_session."""

    sessions: dict[str, CheckoutSession] = field(default_factory=dict)
    fail: bool = False
    lookups: list[str] = field(default_factory=list)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        self.lookups.append(session_id)
        if self.fail:
            raise StripeGatewayError("Stripe did not answer.", transient=True)
        return self.sessions[session_id]


def checkout(
    session_id: str,
    request_id: int,
    *,
    paid: bool,
    status: str = "open",
    expires_at: dt.datetime,
    amount: int = 5000,
) -> CheckoutSession:
    return CheckoutSession(
        id=session_id,
        url=f"https://checkout.example.test/{session_id}",
        status="complete" if paid else status,
        payment_status="paid" if paid else "unpaid",
        expires_at=expires_at,
        payment_intent_id="pi_123" if paid else "",
        amount_total=amount,
        metadata={"jotpay_request_id": str(request_id)},
    )


# -- data -----------------------------------------------------------------------------------------
_MOBILES = itertools.count(1000)


@dataclass
class Scene:
    engine: Engine
    practice_id: int
    clinician_id: int
    patient_id: int
    tz: str

    def patient(self, *, opted_out: bool = False, mobile: str | None = None) -> int:
        with Session(self.engine) as session:
            patient = Patient(
                practice_id=self.practice_id,
                first_name="Maria",
                last_name="Okonkwo-Hale",
                mobile_e164=mobile if mobile is not None else f"+1617555{next(_MOBILES):04d}",
                sms_consent_method="Verbally, in session",
                sms_opted_out=opted_out,
            )
            session.add(patient)
            session.commit()
            return patient.id or 0

    def request(
        self,
        *,
        due: dt.date = DUE,
        status: str = "sent",
        amount: int = 5000,
        patient_id: int | None = None,
        checkout_session_id: str = "",
        checkout_expires_at: dt.datetime | None = None,
    ) -> int:
        fees = breakdown(amount)
        with Session(self.engine) as session:
            practice = session.get(Practice, self.practice_id)
            assert practice is not None
            request = PaymentRequest(
                practice_id=self.practice_id,
                clinician_id=self.clinician_id,
                patient_id=patient_id or self.patient_id,
                invoice_number=practice.next_invoice_number,
                amount_cents=amount,
                fee_cents=fees.fee_cents,
                net_cents=fees.net_cents,
                reason=REASON,
                due_date=due,
                status=status,
                pay_token=secrets.token_urlsafe(16),
                submit_key=secrets.token_hex(16),
                checkout_session_id=checkout_session_id,
                checkout_expires_at=checkout_expires_at,
            )
            practice.next_invoice_number += 1
            session.add_all([request, practice])
            session.commit()
            return request.id or 0

    def text(
        self,
        when: dt.datetime,
        *,
        patient_id: int | None = None,
        status: str = "delivered",
        accepted: bool = True,
        purpose: str = "request",
    ) -> int:
        """A payment text recorded at `when` (accepted by Twilio unless `accepted=False`)."""
        with Session(self.engine) as session:
            message = SmsMessage(
                practice_id=self.practice_id,
                patient_id=patient_id or self.patient_id,
                purpose=purpose,
                to_e164="+16175550100",
                body="earlier text",
                twilio_sid=f"SM{secrets.token_hex(16)}" if accepted else None,
                status=status,
                created_at=when,
                updated_at=when,
            )
            session.add(message)
            session.commit()
            return message.id or 0


def make_scene(
    engine: Engine,
    *,
    tz: str = NY,
    reminder_days: str = "1,3,7",
    reminder_hour: int = 10,
    max_reminders: int = 3,
) -> Scene:
    with Session(engine) as session:
        practice = Practice(
            name=PRACTICE_NAME,
            timezone=tz,
            reminder_days=reminder_days,
            reminder_hour=reminder_hour,
            max_reminders=max_reminders,
        )
        session.add(practice)
        session.flush()
        clinician = Clinician(
            practice_id=practice.id or 0,
            email=f"dr{secrets.token_hex(4)}@example.com",
            full_name="Dr. Ana Rivera",
            password_hash="!",
        )
        session.add(clinician)
        session.commit()
        ids = (practice.id or 0, clinician.id or 0)
    scene = Scene(engine, ids[0], ids[1], 0, tz)
    scene.patient_id = scene.patient()
    return scene


def request_row(engine: Engine, request_id: int) -> PaymentRequest:
    with Session(engine) as session:
        row = session.get(PaymentRequest, request_id)
        assert row is not None
        return row


def records(engine: Engine, request_id: int) -> list[tuple[int, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(ReminderRecord)
            .where(ReminderRecord.request_id == request_id)
            .order_by(ReminderRecord.number)  # type: ignore[arg-type]
        ).all()
        return [(r.number, r.status) for r in rows]


def events(engine: Engine, request_id: int) -> list[PaymentEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(PaymentEvent)
                .where(PaymentEvent.request_id == request_id)
                .order_by(PaymentEvent.id)  # type: ignore[arg-type]
            ).all()
        )


def reminder_texts(engine: Engine, request_id: int) -> list[SmsMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SmsMessage).where(
                    SmsMessage.request_id == request_id, SmsMessage.purpose == "reminder"
                )
            ).all()
        )


def run(engine: Engine, now: dt.datetime, sms: FakeSms, stripe: FakeStripe | None = None):
    return sweep(engine, sms, stripe or FakeStripe(), public_base_url=BASE_URL, now=now)


@pytest.fixture
def scene(sqlite_engine: Engine) -> Scene:
    return make_scene(sqlite_engine)


# -- cadence --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "already", "expected"),
    [
        (at(NY, DUE + days(1), 9, 59), 0, None),  # the day after, before 10:00
        (at(NY, DUE + days(1), 10, 0), 0, 1),
        (at(NY, DUE + days(3), 9, 59), 1, None),
        (at(NY, DUE + days(3), 10, 0), 1, 2),
        (at(NY, DUE + days(7), 10, 0), 2, 3),
        (at(NY, DUE + days(10), 11, 0), 0, 3),  # after downtime: only the latest
        (at(NY, DUE + days(10), 11, 0), 3, None),  # all three used
        (at(NY, DUE + days(4), 11, 0), 2, None),
    ],
)
def test_due_reminder_number_follows_the_default_cadence(
    now: dt.datetime, already: int, expected: int | None
) -> None:
    assert due_reminder_number(DUE, NY, now, "1,3,7", 10, already) == expected


def test_due_reminder_number_stops_at_the_practice_maximum() -> None:
    late = at(NY, DUE + days(10), 11)
    assert due_reminder_number(DUE, NY, late, "1,3,7", 10, 0, max_reminders=2) == 2
    assert due_reminder_number(DUE, NY, late, "1,3,7", 10, 2, max_reminders=2) is None
    assert due_reminder_number(DUE, NY, late, [2, 5], 9, 0) == 2


def test_reminder_time_is_practice_time_across_a_dst_change() -> None:
    # New York springs forward on Mar 8, 2026: 10:00 that day is 14:00 UTC, not 15:00.
    assert reminder_due_at(dt.date(2026, 3, 7), NY, 1, 10) == dt.datetime(
        2026, 3, 8, 14, tzinfo=dt.UTC
    )
    assert reminder_due_at(dt.date(2026, 3, 6), NY, 1, 10) == dt.datetime(
        2026, 3, 7, 15, tzinfo=dt.UTC
    )


def test_parse_reminder_days() -> None:
    assert parse_reminder_days("7, 1,3") == (1, 3, 7)
    assert parse_reminder_days("2,2,0,-1,5") == (2, 5)
    assert parse_reminder_days("soon") == (1, 3, 7)
    assert parse_reminder_days("") == (1, 3, 7)


# -- caps and quiet hours -------------------------------------------------------------------------
QUIET_EDGES = [
    ((7, 59), False),
    ((8, 0), True),
    ((19, 59), True),
    ((20, 0), False),
]


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 5, 6),
        dt.date(2026, 3, 8),  # DST starts in New York
        dt.date(2026, 11, 1),  # DST ends in New York
    ],
)
@pytest.mark.parametrize(("clock", "allowed"), QUIET_EDGES)
def test_quiet_hours_are_8_to_20_practice_time(
    scene: Scene, day: dt.date, clock: tuple[int, int], allowed: bool
) -> None:
    now = at(NY, day, *clock)
    with Session(scene.engine) as session:
        reason = sms_caps.blocked_reason(session, scene.patient_id, NY, now, kind="reminder")
    if allowed:
        assert reason is None
    else:
        assert reason is not None
        assert "between 8:00 AM and 8:00 PM" in reason
        assert "after 8:00 AM" in reason


def test_quiet_hours_tell_when_the_next_reminder_can_go(scene: Scene) -> None:
    with Session(scene.engine) as session:
        evening = sms_caps.check(session, scene.patient_id, NY, at(NY, DUE, 21), kind="reminder")
        morning = sms_caps.check(session, scene.patient_id, NY, at(NY, DUE, 6), kind="resend")
    assert evening is not None and evening.until == at(NY, DUE + days(1), 8)
    assert "the next reminder can go tomorrow after 8:00 AM" in evening.reason
    assert morning is not None and morning.until == at(NY, DUE, 8)
    assert "the link can be resent today after 8:00 AM" in morning.reason


def test_one_text_a_calendar_day_in_practice_time(scene: Scene) -> None:
    # 23:30 in New York is already the next day in UTC: the cap counts New York days.
    scene.text(at(NY, DUE, 23, 30))
    with Session(scene.engine) as session:
        assert (
            sms_caps.blocked_reason(
                session, scene.patient_id, NY, at(NY, DUE + days(1), 9), kind="reminder"
            )
            is None
        )
    scene.text(at(NY, DUE + days(1), 9))
    with Session(scene.engine) as session:
        reason = sms_caps.blocked_reason(
            session, scene.patient_id, NY, at(NY, DUE + days(1), 15), kind="reminder"
        )
        next_morning = sms_caps.blocked_reason(
            session, scene.patient_id, NY, at(NY, DUE + days(2), 8), kind="reminder"
        )
    assert reason == "Already texted today — the next reminder can go tomorrow after 8:00 AM."
    assert next_morning is None


def test_three_texts_in_any_rolling_seven_days(scene: Scene) -> None:
    for offset in (0, 2, 4):
        scene.text(at(NY, DUE + days(offset), 10))
    with Session(scene.engine) as session:

        def reason_at(moment: dt.datetime) -> str | None:
            return sms_caps.blocked_reason(session, scene.patient_id, NY, moment, kind="reminder")

        held = reason_at(at(NY, DUE + days(6), 12))
        assert held is not None
        assert held.startswith("Already texted 3 times in the last 7 days")
        assert "tomorrow after 10:00 AM" in held
        assert reason_at(at(NY, DUE + days(7), 9, 59)) is not None
        # The first text is exactly 7 days old: the window no longer holds it.
        assert reason_at(at(NY, DUE + days(7), 10)) is None


def test_what_counts_as_a_text(scene: Scene) -> None:
    now = at(NY, DUE, 12)
    scene.text(at(NY, DUE, 9), status="failed", accepted=False)  # Twilio refused it
    with Session(scene.engine) as session:
        assert sms_caps.blocked_reason(session, scene.patient_id, NY, now, kind="reminder") is None
    in_flight = scene.text(at(NY, DUE, 9, 30), status="pending", accepted=False)
    with Session(scene.engine) as session:
        assert sms_caps.blocked_reason(session, scene.patient_id, NY, now, kind="reminder")
        # The retry of that very text is not held back by itself.
        assert (
            sms_caps.blocked_reason(
                session, scene.patient_id, NY, now, kind="retry", ignore_message_id=in_flight
            )
            is None
        )
    other = make_scene(scene.engine)
    scene.text(at(NY, DUE, 10), patient_id=other.patient_id, status="undelivered")
    with Session(scene.engine) as session:
        assert sms_caps.blocked_reason(session, other.patient_id, NY, now, kind="reminder")


def test_first_request_ignores_caps_and_quiet_hours_but_not_opt_out(scene: Scene) -> None:
    for offset in (0, 1, 2):
        scene.text(at(NY, DUE + days(offset), 9))
    late_evening = at(NY, DUE + days(2), 22)
    opted_out = scene.patient(opted_out=True)
    with Session(scene.engine) as session:
        assert (
            sms_caps.blocked_reason(session, scene.patient_id, NY, late_evening, kind="request")
            is None
        )
        assert sms_caps.blocked_reason(session, scene.patient_id, NY, late_evening, kind="resend")
        reason = sms_caps.blocked_reason(session, opted_out, NY, at(NY, DUE, 12), kind="request")
    assert reason is not None and "STOP" in reason


def test_hold_for_retry_reports_until_when(scene: Scene) -> None:
    request_id = scene.request(status="sms_failed")
    with Session(scene.engine) as session:
        session.add(
            SmsMessage(
                practice_id=scene.practice_id,
                patient_id=scene.patient_id,
                request_id=request_id,
                purpose="request",
                to_e164="+16175550100",
                body="request text",
                status="pending",
                created_at=at(NY, DUE, 19, 50),
                updated_at=at(NY, DUE, 19, 50),
            )
        )
        session.commit()
        request = session.get(PaymentRequest, request_id)
        assert request is not None
        assert sms_caps.hold_for_retry(session, request, at(NY, DUE, 19, 55)) is None
        hold = sms_caps.hold_for_retry(session, request, at(NY, DUE, 20, 5))
    assert hold is not None and hold.until == at(NY, DUE + days(1), 8)
    assert "the text will be retried tomorrow after 8:00 AM" in hold.reason


# -- overdue --------------------------------------------------------------------------------------
def test_overdue_exactly_at_the_end_of_the_due_date_in_practice_time(
    sqlite_engine: Engine,
) -> None:
    la = make_scene(sqlite_engine, tz=LA)
    utc = make_scene(sqlite_engine, tz="UTC")
    in_la, in_utc = la.request(), utc.request()

    def status(request_id: int) -> str:
        return request_row(sqlite_engine, request_id).status

    mark_overdue(sqlite_engine, at("UTC", DUE, 23, 59, 59))
    assert (status(in_la), status(in_utc)) == ("sent", "sent")
    midnight_utc = at("UTC", DUE + days(1))
    mark_overdue(sqlite_engine, midnight_utc)
    assert (status(in_la), status(in_utc)) == ("sent", "overdue")
    mark_overdue(sqlite_engine, at(LA, DUE, 23, 59, 59))  # 06:59:59 UTC the next day
    assert status(in_la) == "sent"
    midnight_la = at(LA, DUE + days(1))
    mark_overdue(sqlite_engine, midnight_la)
    assert status(in_la) == "overdue"
    assert request_row(sqlite_engine, in_la).overdue_at == midnight_la
    assert request_row(sqlite_engine, in_utc).overdue_at == midnight_utc


def test_overdue_marking_appends_one_event_and_touches_only_sent_and_payment_failed(
    scene: Scene,
) -> None:
    engine = scene.engine
    sent = scene.request()
    declined = scene.request(status="payment_failed")
    untouched = {s: scene.request(status=s) for s in ("sms_failed", "sending", "paid", "canceled")}
    not_yet_due = scene.request(due=DUE + days(1))
    now = at(NY, DUE + days(1), 0, 0, 1)

    marked, _ = mark_overdue(engine, now)
    again, _ = mark_overdue(engine, now + dt.timedelta(minutes=5))

    assert (marked, again) == (2, 0)
    for request_id, from_status in ((sent, "sent"), (declined, "payment_failed")):
        assert request_row(engine, request_id).status == "overdue"
        overdue_events = [e for e in events(engine, request_id) if e.kind == "overdue"]
        assert [(e.from_status, e.to_status, e.actor) for e in overdue_events] == [
            (from_status, "overdue", "system")
        ]
        assert "May 4, 2026" in overdue_events[0].detail
    for status, request_id in untouched.items():
        assert request_row(engine, request_id).status == status
        assert events(engine, request_id) == []
    assert request_row(engine, not_yet_due).status == "sent"


def test_overdue_marking_runs_the_same_statements_for_3_or_60_rows(
    sqlite_engine: Engine,
) -> None:
    def statements_for(rows: int) -> tuple[int, int]:
        ny, la = make_scene(sqlite_engine), make_scene(sqlite_engine, tz=LA)
        for i in range(rows):
            (ny if i % 2 else la).request(status="sent" if i % 3 else "payment_failed")
        return mark_overdue(sqlite_engine, at(NY, DUE + days(2), 12))

    few = statements_for(3)
    many = statements_for(60)
    assert few[0] == 3 and many[0] == 60
    assert few[1] == many[1] <= 6


# -- reminders ------------------------------------------------------------------------------------
def test_first_reminder_at_10_the_day_after_the_due_date(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request(amount=12345)

    early = run(engine, at(NY, DUE + days(1), 9, 55), sms)
    assert early.marked_overdue == 1 and early.reminders_sent == 0 and sms.texts == []

    result = run(engine, at(NY, DUE + days(1), 10, 5), sms)
    assert result.reminders_sent == 1
    (text,) = sms.texts
    row = request_row(engine, request_id)
    assert PRACTICE_NAME in text.body
    assert "$123.45" in text.body
    assert f"{BASE_URL}/pay/{row.pay_token}" in text.body
    for clinical in ("CBT", "panic", "session", "Maria", "Okonkwo"):
        assert clinical.lower() not in text.body.lower()
    assert records(engine, request_id) == [(1, "sent")]
    (message,) = reminder_texts(engine, request_id)
    assert (message.twilio_sid, message.body) == (text.sid, text.body)
    assert row.reminders_sent == 1 and row.last_reminder_at == at(NY, DUE + days(1), 10, 5)
    assert "reminder_sent" in [e.kind for e in events(engine, request_id)]

    # Every few minutes the same day: nothing more.
    for minutes in (10, 15, 300):
        assert run(engine, at(NY, DUE + days(1), 10, 5) + dt.timedelta(minutes=minutes), sms)
    assert len(sms.texts) == 1


def test_full_cadence_then_nothing_more(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    for offset in range(1, 20):
        run(engine, at(NY, DUE + days(offset), 10, 30), sms)
    assert records(engine, request_id) == [(1, "sent"), (2, "sent"), (3, "sent")]
    assert len(sms.texts) == 3


def test_after_ten_days_down_only_the_latest_reminder_goes(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()

    result = run(engine, at(NY, DUE + days(10), 11), sms)

    assert result.marked_overdue == 1
    assert (result.reminders_sent, result.reminders_skipped) == (1, 2)
    assert len(sms.texts) == 1
    assert records(engine, request_id) == [(1, "skipped"), (2, "skipped"), (3, "sent")]
    for offset in (11, 20, 40):
        run(engine, at(NY, DUE + days(offset), 11), sms)
    assert len(sms.texts) == 1  # the skipped ones count toward the maximum of 3


def test_practice_maximum_of_two_reminders(sqlite_engine: Engine) -> None:
    scene = make_scene(sqlite_engine, max_reminders=2)
    sms = FakeSms()
    request_id = scene.request()
    run(sqlite_engine, at(NY, DUE + days(10), 11), sms)
    run(sqlite_engine, at(NY, DUE + days(30), 11), sms)
    assert records(sqlite_engine, request_id) == [(1, "skipped"), (2, "sent")]
    assert len(sms.texts) == 1


def test_practice_cadence_and_hour(sqlite_engine: Engine) -> None:
    scene = make_scene(sqlite_engine, reminder_days="2,4", reminder_hour=15)
    sms = FakeSms()
    request_id = scene.request()
    run(sqlite_engine, at(NY, DUE + days(1), 16), sms)
    run(sqlite_engine, at(NY, DUE + days(2), 14, 59), sms)
    assert sms.texts == []
    run(sqlite_engine, at(NY, DUE + days(2), 15), sms)
    assert records(sqlite_engine, request_id) == [(1, "sent")]


def test_a_reminder_held_by_the_daily_cap_goes_the_next_morning(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    scene.text(at(NY, DUE + days(1), 9))  # another payment text went this morning

    held = run(engine, at(NY, DUE + days(1), 10, 30), sms)
    assert (held.reminders_held, held.reminders_sent) == (1, 0)
    assert records(engine, request_id) == []  # held back: nothing recorded
    assert reminder_texts(engine, request_id) == []

    assert run(engine, at(NY, DUE + days(2), 7, 55), sms).reminders_sent == 0  # quiet hours
    assert run(engine, at(NY, DUE + days(2), 8), sms).reminders_sent == 1
    assert records(engine, request_id) == [(1, "sent")]


def test_a_reminder_held_past_the_next_ones_time_is_replaced_by_it(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    for moment in (at(NY, DUE - days(2), 9), at(NY, DUE, 9), at(NY, DUE + days(1), 9)):
        scene.text(moment)  # three texts: the weekly cap holds until DUE+5 9:00

    for offset in (1, 2, 3, 4):
        assert run(engine, at(NY, DUE + days(offset), 10, 30), sms).reminders_sent == 0
    assert run(engine, at(NY, DUE + days(5), 8, 55), sms).reminders_sent == 0
    result = run(engine, at(NY, DUE + days(5), 9, 5), sms)

    assert (result.reminders_sent, result.reminders_skipped) == (1, 1)
    assert records(engine, request_id) == [(1, "skipped"), (2, "sent")]


def test_quiet_hours_hold_a_reminder_due_in_the_evening(sqlite_engine: Engine) -> None:
    scene = make_scene(sqlite_engine, reminder_hour=21)
    sms = FakeSms()
    request_id = scene.request()
    evening = run(sqlite_engine, at(NY, DUE + days(1), 21, 5), sms)
    assert (evening.reminders_held, evening.reminders_sent) == (1, 0)
    run(sqlite_engine, at(NY, DUE + days(2), 8), sms)
    assert records(sqlite_engine, request_id) == [(1, "sent")]


def test_never_to_opted_out_numbers(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    stopped = scene.patient(opted_out=True)
    request_id = scene.request(patient_id=stopped)
    no_number = scene.request(patient_id=scene.patient(mobile=""))
    for offset in (1, 3, 7, 10):
        run(engine, at(NY, DUE + days(offset), 10, 30), sms)
    assert sms.texts == []
    assert request_row(engine, request_id).status == "overdue"
    assert records(engine, request_id) == records(engine, no_number) == []


def test_never_for_paid_or_canceled_requests(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    paid = scene.request(status="paid")
    canceled = scene.request(status="canceled")
    paid_while_overdue = scene.request()
    run(engine, at(NY, DUE + days(1), 9), sms)  # marks it overdue
    with Session(engine) as session:
        request = lifecycle.lock_request(session, paid_while_overdue)
        assert request is not None
        paylink.record_payment(
            session, request, amount_cents=5000, payment_intent_id="pi_1", actor="stripe"
        )
        session.commit()
    for offset in (1, 3, 7):
        run(engine, at(NY, DUE + days(offset), 10, 30), sms)
    assert sms.texts == []
    for request_id in (paid, canceled, paid_while_overdue):
        assert records(engine, request_id) == []
    assert request_row(engine, canceled).status == "canceled"


def test_a_worker_that_read_the_same_reminder_loses_the_claim(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    now = at(NY, DUE + days(1), 10, 30)
    mark_overdue(engine, now)
    read_by_the_slow_worker = reminders._due_reminders(engine, now)

    assert run(engine, now, sms).reminders_sent == 1
    monkeypatch.setattr(reminders, "_due_reminders", lambda *_: read_by_the_slow_worker)
    slow = reminders.send_due_reminders(engine, sms, public_base_url=BASE_URL, now=now)

    assert (slow.claims_lost, slow.reminders_sent) == (1, 0)
    assert len(sms.texts) == 1
    assert records(engine, request_id) == [(1, "sent")]
    assert len(reminder_texts(engine, request_id)) == 1


def _leave_a_claim(scene: Scene, request_id: int, sms: FakeSms, when: dt.datetime) -> None:
    """What a worker that died right after claiming reminder 1 leaves behind."""
    sms.errors.append(SmsError("Twilio did not answer in time.", permanent=False))
    sms_lookup_finds_nothing = run(scene.engine, when, sms)
    assert sms_lookup_finds_nothing.reminders_pending == 1
    assert records(scene.engine, request_id) == [(1, "claimed")]


def test_an_interrupted_reminder_is_sent_once_by_a_later_run(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    claimed_at = at(NY, DUE + days(1), 10, 30)
    _leave_a_claim(scene, request_id, sms, claimed_at)

    too_soon = run(engine, claimed_at + dt.timedelta(minutes=4), sms)
    assert too_soon.reminders_sent == 0 and sms.texts == []
    later = run(engine, claimed_at + dt.timedelta(minutes=6), sms)

    assert later.reminders_sent == 1
    assert len(sms.texts) == 1
    assert records(engine, request_id) == [(1, "sent")]
    (message,) = reminder_texts(engine, request_id)
    assert message.twilio_sid == sms.texts[0].sid


def test_an_interrupted_reminder_that_did_go_out_is_recorded_not_resent(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    claimed_at = at(NY, DUE + days(1), 10, 30)
    _leave_a_claim(scene, request_id, sms, claimed_at)
    (message,) = reminder_texts(engine, request_id)
    sms.send(to=message.to_e164, body=message.body)  # Twilio did send it after all

    later = run(engine, claimed_at + dt.timedelta(minutes=10), sms)

    assert later.reminders_sent == 1
    assert len(sms.texts) == 1
    assert records(engine, request_id) == [(1, "sent")]


def test_an_interrupted_reminder_for_a_request_paid_meanwhile_is_dropped(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    claimed_at = at(NY, DUE + days(1), 10, 30)
    _leave_a_claim(scene, request_id, sms, claimed_at)
    with Session(engine) as session:
        request = lifecycle.lock_request(session, request_id)
        assert request is not None
        paylink.record_payment(
            session, request, amount_cents=5000, payment_intent_id="pi_1", actor="stripe"
        )
        session.commit()

    run(engine, claimed_at + dt.timedelta(minutes=10), sms)

    assert sms.texts == []
    assert records(engine, request_id) == [(1, "failed")]
    (message,) = reminder_texts(engine, request_id)
    assert message.status == "failed" and message.twilio_sid is None


def test_twilio_stop_error_marks_the_patient_opted_out(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    sms.errors.append(SmsError("The patient replied STOP.", permanent=True, code=21610))
    result = run(engine, at(NY, DUE + days(1), 10, 30), sms)
    assert result.reminders_failed == 1
    assert records(engine, request_id) == [(1, "failed")]
    with Session(engine) as session:
        patient = session.get(Patient, scene.patient_id)
        assert patient is not None and patient.sms_opted_out
    run(engine, at(NY, DUE + days(3), 10, 30), sms)
    assert sms.texts == []


# -- Send reminder now ----------------------------------------------------------------------------
def test_send_reminder_now_obeys_the_caps_and_says_why(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request(due=DUE + days(5))  # not even overdue yet
    scene.text(at(NY, DUE, 9))  # the request itself went out this morning

    held = send_reminder_now(engine, scene.clinician_id, request_id, sms, BASE_URL, at(NY, DUE, 15))
    assert held == reminders.ReminderNowResult(
        False, "Already texted today — the next reminder can go tomorrow after 8:00 AM."
    )
    night = send_reminder_now(
        engine, scene.clinician_id, request_id, sms, BASE_URL, at(NY, DUE, 22)
    )
    assert not night.sent and "8:00 AM" in night.message
    assert sms.texts == [] and records(engine, request_id) == []

    sent = send_reminder_now(
        engine, scene.clinician_id, request_id, sms, BASE_URL, at(NY, DUE + days(1), 9)
    )
    assert sent.sent and len(sms.texts) == 1
    assert records(engine, request_id) == [(1, "sent")]
    assert "clinician:" in [e.actor for e in events(engine, request_id)][-1]


def test_send_reminder_now_takes_a_reminder_slot(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    request_id = scene.request()
    run(engine, at(NY, DUE + days(1), 9), sms)  # overdue
    send_reminder_now(
        engine, scene.clinician_id, request_id, sms, BASE_URL, at(NY, DUE + days(1), 9, 30)
    )
    # The scheduled first reminder at 10:00 is the one the clinician already sent.
    run(engine, at(NY, DUE + days(1), 10, 30), sms)
    run(engine, at(NY, DUE + days(3), 10, 30), sms)
    assert records(engine, request_id) == [(1, "sent"), (2, "sent")]
    assert len(sms.texts) == 2


def test_send_reminder_now_refusals(scene: Scene) -> None:
    engine, sms = scene.engine, FakeSms()
    paid = scene.request(status="paid")
    canceled = scene.request(status="canceled")
    used_up = scene.request()
    run(engine, at(NY, DUE + days(10), 11), sms)  # reminder 3 sent, 1 and 2 skipped
    noon = at(NY, DUE + days(20), 12)

    def press(request_id: int, clinician_id: int = scene.clinician_id):
        return send_reminder_now(engine, clinician_id, request_id, sms, BASE_URL, noon)

    assert press(paid).message == "This request is paid: no reminder is needed."
    assert press(canceled).message == "This request was canceled: no reminder is sent."
    assert not press(used_up).sent and "3 reminders already" in press(used_up).message
    someone_else = make_scene(engine).clinician_id
    with pytest.raises(NotFoundError):
        press(used_up, someone_else)
    assert len(sms.texts) == 1


# -- missed webhooks ------------------------------------------------------------------------------
def test_a_paid_session_with_no_webhook_is_recorded(scene: Scene) -> None:
    engine = scene.engine
    now = at(NY, DUE, 12)
    opened = now - dt.timedelta(minutes=61)
    request_id = scene.request(
        due=DUE + days(3),
        checkout_session_id="cs_paid",
        checkout_expires_at=opened + paylink.CHECKOUT_LIFETIME,
    )
    stripe = FakeStripe(
        {"cs_paid": checkout("cs_paid", request_id, paid=True, expires_at=opened + days(1))}
    )

    result = run(engine, now, FakeSms(), stripe)
    again = run(engine, now + dt.timedelta(minutes=5), FakeSms(), stripe)

    assert (result.checkouts_checked, result.payments_recovered) == (1, 1)
    assert (again.checkouts_checked, stripe.lookups) == (0, ["cs_paid"])
    row = request_row(engine, request_id)
    assert row.status == "paid" and row.payment_intent_id == "pi_123"
    assert [e.kind for e in events(engine, request_id)] == ["paid", "webhook_missed"]


def test_a_session_open_under_an_hour_is_not_looked_up(scene: Scene) -> None:
    now = at(NY, DUE, 12)
    opened = now - dt.timedelta(minutes=59)
    request_id = scene.request(
        due=DUE + days(3),
        checkout_session_id="cs_new",
        checkout_expires_at=opened + paylink.CHECKOUT_LIFETIME,
    )
    stripe = FakeStripe(
        {"cs_new": checkout("cs_new", request_id, paid=True, expires_at=opened + days(1))}
    )
    assert run(scene.engine, now, FakeSms(), stripe).checkouts_checked == 0
    assert stripe.lookups == []
    assert request_row(scene.engine, request_id).status == "sent"


def test_an_unpaid_session_is_looked_up_once_open_and_once_closed(scene: Scene) -> None:
    engine = scene.engine
    now = at(NY, DUE, 12)
    opened = now - dt.timedelta(hours=2)
    expires = opened + paylink.CHECKOUT_LIFETIME
    request_id = scene.request(
        due=DUE + days(3), checkout_session_id="cs_open", checkout_expires_at=expires
    )
    stripe = FakeStripe(
        {"cs_open": checkout("cs_open", request_id, paid=False, expires_at=expires)}
    )

    for minutes in (0, 5, 10):
        run(engine, now + dt.timedelta(minutes=minutes), FakeSms(), stripe)
    assert stripe.lookups == ["cs_open"]

    stripe.sessions["cs_open"] = checkout(
        "cs_open", request_id, paid=False, status="expired", expires_at=expires
    )
    for minutes in (0, 5):
        run(engine, expires + dt.timedelta(minutes=minutes), FakeSms(), stripe)
    assert stripe.lookups == ["cs_open", "cs_open"]
    assert request_row(engine, request_id).status == "sent"


def test_a_failed_stripe_lookup_is_tried_again_next_run(scene: Scene) -> None:
    now = at(NY, DUE, 12)
    opened = now - dt.timedelta(hours=2)
    request_id = scene.request(
        due=DUE + days(3),
        checkout_session_id="cs_x",
        checkout_expires_at=opened + paylink.CHECKOUT_LIFETIME,
    )
    stripe = FakeStripe(
        {"cs_x": checkout("cs_x", request_id, paid=True, expires_at=opened + days(1))}, fail=True
    )
    assert run(scene.engine, now, FakeSms(), stripe).payments_recovered == 0
    stripe.fail = False
    assert run(scene.engine, now + dt.timedelta(minutes=5), FakeSms(), stripe).payments_recovered
    assert request_row(scene.engine, request_id).status == "paid"


def test_a_session_of_another_request_is_not_recorded(scene: Scene) -> None:
    now = at(NY, DUE, 12)
    opened = now - dt.timedelta(hours=2)
    request_id = scene.request(
        due=DUE + days(3),
        checkout_session_id="cs_other",
        checkout_expires_at=opened + paylink.CHECKOUT_LIFETIME,
    )
    stripe = FakeStripe(
        {"cs_other": checkout("cs_other", request_id + 999, paid=True, expires_at=now)}
    )
    assert run(scene.engine, now, FakeSms(), stripe).payments_recovered == 0
    assert request_row(scene.engine, request_id).status == "sent"


# -- scheduler ------------------------------------------------------------------------------------
def test_scheduler_runs_the_sweep_beside_the_sms_retries() -> None:
    jobs = {job.id: job for job in scheduler.build_scheduler().get_jobs()}
    assert set(jobs) == {"retry_failed_sms", "overdue_sweep"}
    assert jobs["overdue_sweep"].trigger.interval == dt.timedelta(
        minutes=scheduler.OVERDUE_SWEEP_MINUTES
    )
    assert jobs["overdue_sweep"].func is scheduler.overdue_sweep


def test_scheduler_job_takes_a_clock(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "get_engine", lambda: scene.engine)
    request_id = scene.request()
    result = scheduler.overdue_sweep(now=at(NY, DUE + days(1), 7))  # nothing to text yet
    assert result.marked_overdue == 1
    assert request_row(scene.engine, request_id).status == "overdue"
