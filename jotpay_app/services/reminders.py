"""Overdue requests, reminders and missed webhooks: the scheduler's sweep (SPEC item 7).

`sweep` is one job with three steps, each safe to run in several workers at once and
correct after the app was down for days:

1. Mark overdue: requests in `sent`/`payment_failed` whose due date has ended in their
   practice's timezone become `overdue`, with an event each — a few set-based statements
   whatever the number of rows.
2. Reminders: each overdue request gets the latest reminder that is due by the practice's
   cadence (default 10:00 practice time on due date +1, +3 and +7 days), up to the
   practice's maximum. Reminders missed while the app was down (or held back until a
   later one came due) are recorded as `skipped` and count toward the maximum: no burst.
   Caps and quiet hours (services/sms_caps) hold a reminder back: nothing is recorded and
   the next run tries again.
3. Missed webhooks: a Checkout Session open for over an hour with no payment recorded is
   looked up in Stripe; a paid one is recorded as the webhook would have.

`send_reminder_now` is the "Send reminder now" button: the same claim, caps and text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from jotpay_app.models import (
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    ReminderRecord,
    RequestStatus,
    SmsMessage,
    utcnow,
)
from jotpay_app.services import changes, lifecycle, paylink, sms_caps
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.requests import pay_link
from jotpay_app.services.sms import SentSms, SmsError, reminder_text
from jotpay_app.services.stripe_gateway import CheckoutSession, StripeGatewayError
from jotpay_app.services.timefmt import format_date, local_to_utc, local_today

log = logging.getLogger(__name__)
S = RequestStatus

DEFAULT_REMINDER_DAYS = (1, 3, 7)
# The statuses that become overdue. The bulk UPDATE below bypasses lifecycle.transition
# for speed; this check keeps it inside the state machine's table.
OVERDUE_FROM = (S.SENT, S.PAYMENT_FAILED)
assert all(lifecycle.can_transition(status, S.OVERDUE) for status in OVERDUE_FROM)
# "Send reminder now" works on a request that was texted and is still unpaid.
REMINDABLE_NOW = frozenset({S.SENT, S.PAYMENT_FAILED, S.OVERDUE})
# A claimed reminder whose result was not recorded this long after its last attempt was
# interrupted (crash, or Twilio did not answer): a later run finishes it, looking in
# Twilio first so a text that did go out is not sent again.
STALE_CLAIM_AFTER = dt.timedelta(minutes=5)
# ...and gives up after this long: a reminder a day late is no longer the one that was due.
ABANDON_CLAIM_AFTER = dt.timedelta(hours=24)
# Missed webhooks: a Checkout Session open this long with no payment is checked in Stripe.
CHECKOUT_CHECK_AFTER = dt.timedelta(hours=1)
# PostgreSQL advisory lock key for step 1. Two workers updating the same rows in bulk
# can deadlock (their scans may take row locks in different orders); one at a time is
# as fast, and the second then finds nothing left to mark.
OVERDUE_MARKING_LOCK_KEY = 0x4A_6F_74_4F_76_44  # "JotOvD"
SKIPPED_DETAIL = "Missed while the app was down or held back by texting limits; a later one went"


class TextSender(Protocol):
    """What reminders need of services.sms.SmsGateway (tests pass a fake)."""

    def send(self, *, to: str, body: str) -> SentSms: ...

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> SentSms | None: ...


class CheckoutLookup(Protocol):
    """What the missed-webhook step needs of services.stripe_gateway.StripeGateway."""

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession: ...


@dataclass
class SweepResult:
    marked_overdue: int = 0
    # SQL statements the overdue marking ran: a few, whatever the number of rows.
    overdue_statements: int = 0
    reminders_sent: int = 0
    reminders_skipped: int = 0  # earlier numbers recorded as skipped (catch-up)
    reminders_held: int = 0  # due but held back by caps, quiet hours (tried next run)
    reminders_failed: int = 0  # Twilio refused (permanent) or gave up
    reminders_pending: int = 0  # Twilio did not answer: finished by a later run
    claims_lost: int = 0  # another worker claimed the same reminder first
    checkouts_checked: int = 0
    payments_recovered: int = 0


@dataclass(frozen=True)
class ReminderNowResult:
    sent: bool
    message: str  # what the detail panel shows: success, or the reason nothing was sent


# -- cadence -------------------------------------------------------------------------------
def parse_reminder_days(text: str) -> tuple[int, ...]:
    """'1,3,7' -> (1, 3, 7): sorted, positive, distinct; the default when unreadable."""
    try:
        days = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        return DEFAULT_REMINDER_DAYS
    days = [d for d in days if d > 0]
    return tuple(days) if days else DEFAULT_REMINDER_DAYS


def reminder_due_at(due_date: dt.date, tz: str, days_after: int, hour: int) -> dt.datetime:
    """When a reminder `days_after` the due date is due: `hour`:00 practice time (UTC)."""
    local = dt.datetime.combine(due_date + dt.timedelta(days=days_after), dt.time(hour))
    return local_to_utc(local, tz)


def due_reminder_number(
    due_date: dt.date,
    tz: str,
    now: dt.datetime,
    reminder_days: str | Sequence[int],
    reminder_hour: int,
    already: int,
    max_reminders: int | None = None,
) -> int | None:
    """The latest reminder number whose time has come and that is above `already` (the
    highest number sent or skipped so far), or None. Reminders beyond `max_reminders`
    do not exist, so after a long downtime the last allowed one is the latest due."""
    days = (
        parse_reminder_days(reminder_days)
        if isinstance(reminder_days, str)
        else tuple(reminder_days)
    )
    if max_reminders is not None:
        days = days[: max(max_reminders, 0)]
    latest = 0
    for number, days_after in enumerate(days, start=1):
        if now >= reminder_due_at(due_date, tz, days_after, reminder_hour):
            latest = number
    return latest if latest > already else None


# -- step 1: overdue -----------------------------------------------------------------------
def mark_overdue(engine: Engine, now: dt.datetime) -> tuple[int, int]:
    """Mark every request whose due date has ended (practice time) overdue, with its event.

    Returns (requests marked, SQL statements run). The statements do not depend on the
    number of rows: in one transaction, one read of the practices' timezones, then per
    status an UPDATE … RETURNING and one executemany INSERT of the events.
    """
    requests_table = PaymentRequest.__table__  # type: ignore[attr-defined]
    practices_table = Practice.__table__  # type: ignore[attr-defined]
    events_table = PaymentEvent.__table__  # type: ignore[attr-defined]
    statements = 0

    def count_statement(*_args: object) -> None:
        nonlocal statements
        statements += 1

    marked = 0
    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", count_statement)
        changed_by_practice: dict[int, set[int]] = defaultdict(set)
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": OVERDUE_MARKING_LOCK_KEY},
                    )
                timezones = conn.execute(sa.select(practices_table.c.timezone).distinct()).scalars()
                # Practices whose local date is the same share one cutoff: at any moment
                # the world spans at most three dates, so the condition stays small.
                timezones_by_today: dict[dt.date, list[str]] = defaultdict(list)
                for tz in timezones:
                    timezones_by_today[local_today(tz, now)].append(tz)
                if not timezones_by_today:
                    return 0, statements
                due_date_ended = sa.and_(
                    # Lets the (status, due_date) index narrow the scan before the OR.
                    requests_table.c.due_date < max(timezones_by_today),
                    sa.or_(
                        *(
                            sa.and_(
                                requests_table.c.due_date < today,
                                requests_table.c.practice_id.in_(
                                    sa.select(practices_table.c.id).where(
                                        practices_table.c.timezone.in_(tzs)
                                    )
                                ),
                            )
                            for today, tzs in timezones_by_today.items()
                        )
                    ),
                )
                # One UPDATE per from-status, so each event records where it came from
                # (RETURNING gives new values only). RETURNING names exactly the rows this
                # statement changed, so concurrent workers never write an event twice.
                for from_status in OVERDUE_FROM:
                    changed = conn.execute(
                        sa.update(requests_table)
                        .where(requests_table.c.status == from_status, due_date_ended)
                        .values(status=S.OVERDUE, overdue_at=now, updated_at=now)
                        .returning(
                            requests_table.c.id,
                            requests_table.c.due_date,
                            requests_table.c.practice_id,
                        )
                    ).all()
                    if changed:
                        conn.execute(
                            sa.insert(events_table),
                            [
                                {
                                    "request_id": request_id,
                                    "at": now,
                                    "actor": "system",
                                    "kind": "overdue",
                                    "from_status": from_status,
                                    "to_status": S.OVERDUE,
                                    "detail": f"Unpaid after the due date, "
                                    f"{format_date(due_date)} (practice time)",
                                }
                                for request_id, due_date, _practice in changed
                            ],
                        )
                        for request_id, _due, practice_id in changed:
                            changed_by_practice[practice_id].add(request_id)
                    marked += len(changed)
        finally:
            sa.event.remove(conn, "before_cursor_execute", count_statement)
    # Committed: open pages of those practices show Overdue live.
    changes.publish(changed_by_practice)
    return marked, statements


# -- step 2: reminders ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Claim:
    request_id: int
    record_id: int
    message_id: int
    number: int
    to: str
    body: str
    first_attempt_at: dt.datetime
    actor: str


@dataclass(frozen=True)
class _Refusal:
    why: str  # "claimed" | "closed" | "held"
    reason: str


def _highest_reminder_number(session: Session, request_id: int) -> int:
    highest = session.exec(
        select(func.max(ReminderRecord.number)).where(ReminderRecord.request_id == request_id)
    ).one()
    return int(highest or 0)


def _claim(
    engine: Engine,
    request_id: int,
    *,
    number: int,
    already: int,
    now: dt.datetime,
    public_base_url: str,
    allowed_statuses: frozenset[RequestStatus],
    actor: str,
    detail: str = "",
) -> _Claim | _Refusal:
    """Claim reminder `number` of a request, recording the text about to be sent.

    Why a claim row and not only a row lock: the claim must outlive this transaction.
    Twilio is called after it commits (no lock is held while Twilio answers), and a
    worker that dies mid-send leaves a visible `claimed` row that a later run finishes
    with a lookup instead of a second text. The UNIQUE (request_id, number) constraint
    makes the insert the decision: of two workers only one insert commits; the other
    gets an IntegrityError and walks away. The numbers `already`+1 … `number`-1 are
    inserted as `skipped` in the same statement batch, in ascending order, so two workers
    that disagree on the latest due number collide on the first shared one (and lock
    keys in the same order: no deadlock). The request row lock then serializes with
    webhooks (a request paid meanwhile is not reminded) and the patient row lock with
    other texts to the same patient, so the caps are checked against every text
    committed before. Held back or closed: everything rolls back, nothing is recorded.
    """
    with Session(engine, expire_on_commit=False) as session:
        claim = ReminderRecord(
            request_id=request_id, number=number, status="claimed", detail=detail, created_at=now
        )
        session.add_all(
            [
                ReminderRecord(
                    request_id=request_id,
                    number=missed,
                    status="skipped",
                    detail=SKIPPED_DETAIL,
                    created_at=now,
                )
                for missed in range(already + 1, number)
            ]
            + [claim]
        )
        try:
            # The first statement of the transaction is a write, so on SQLite the write
            # lock is held before anything is read (whether or not the engine begins
            # transactions IMMEDIATE) and what is read next is current.
            session.flush()
        except IntegrityError:
            session.rollback()
            return _Refusal("claimed", "A reminder for this request is being sent right now.")
        request = lifecycle.lock_request(session, request_id)
        if request is None or request.status not in allowed_statuses:
            session.rollback()
            return _Refusal("closed", "This request is no longer open for reminders.")
        patient = session.exec(
            select(Patient).where(Patient.id == request.patient_id).with_for_update()
        ).one()
        practice = session.get(Practice, request.practice_id)
        assert practice is not None
        reason = sms_caps.blocked_reason(
            session, patient.id or 0, practice.timezone, now, kind=sms_caps.TextKind.REMINDER
        )
        if reason is not None:
            session.rollback()
            return _Refusal("held", reason)
        message = SmsMessage(
            practice_id=request.practice_id,
            patient_id=request.patient_id,
            request_id=request_id,
            purpose="reminder",
            to_e164=patient.mobile_e164,
            body=reminder_text(
                practice_name=practice.name,
                amount_cents=request.amount_cents,
                link=pay_link(public_base_url, request.pay_token),
            ),
            status="pending",
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        session.flush()
        claim.sms_message_id = message.id
        session.add(claim)
        session.commit()
        return _Claim(
            request_id=request_id,
            record_id=claim.id or 0,
            message_id=message.id or 0,
            number=number,
            to=message.to_e164,
            body=message.body,
            first_attempt_at=now,
            actor=actor,
        )


def _send_or_find(
    sms: TextSender, *, to: str, body: str, since: dt.datetime, look_first: bool
) -> tuple[SentSms | None, SmsError | None]:
    """Send a text, never twice: after an interruption or a timeout, look in Twilio first."""
    try:
        if look_first:
            found = sms.find_sent(to=to, body=body, since=since)
            if found is not None:
                return found, None
        try:
            return sms.send(to=to, body=body), None
        except SmsError as exc:
            if exc.permanent:
                raise
            # Timed out or 5xx: Twilio may have sent it anyway.
            found = sms.find_sent(to=to, body=body, since=since)
            if found is None:
                raise
            return found, None
    except SmsError as exc:
        return None, exc


def _record_result(
    engine: Engine, claim: _Claim, sent: SentSms | None, error: SmsError | None, now: dt.datetime
) -> str:
    """Step 3 of a reminder: `sent`, `failed` (permanent), or `claimed` (try again later)."""
    with Session(engine, expire_on_commit=False) as session:
        request = lifecycle.lock_request(session, claim.request_id)
        record = session.get(ReminderRecord, claim.record_id)
        message = session.get(SmsMessage, claim.message_id)
        assert request is not None and record is not None and message is not None
        if record.status != "claimed":
            return record.status  # finished by another worker's recovery meanwhile
        if sent is not None:
            record.status = "sent"
            message.twilio_sid = sent.sid
            message.status = sent.status or "queued"
            request.reminders_sent += 1
            request.last_reminder_at = now
            lifecycle.record_event(
                session,
                request,
                actor=claim.actor,
                kind="reminder_sent",
                detail=f"Reminder {claim.number} texted ({sent.sid})",
            )
        elif error is not None and error.permanent:
            record.status = "failed"
            record.detail = str(error)[:255]
            message.status = "failed"
            message.error_code = str(error.code or "")
            if error.code == 21610:  # the number replied STOP: no more texts to it
                patient = session.get(Patient, request.patient_id)
                if patient is not None and not patient.sms_opted_out:
                    patient.sms_opted_out = True
                    patient.sms_opted_out_at = now
                    session.add(patient)
            lifecycle.record_event(
                session,
                request,
                actor="twilio",
                kind="reminder_failed",
                detail=f"Reminder {claim.number} not sent: {error}",
            )
        else:
            # Twilio did not answer and has no such text: keep the claim; a run after
            # STALE_CLAIM_AFTER looks again and sends if it is still missing.
            record.detail = (str(error) if error else "No answer from Twilio")[:255]
        message.updated_at = now
        session.add_all([record, message, request])
        session.commit()
        return record.status


def _remind(
    engine: Engine,
    sms: TextSender,
    request_id: int,
    *,
    number: int,
    already: int,
    now: dt.datetime,
    public_base_url: str,
    allowed_statuses: frozenset[RequestStatus],
    actor: str,
    detail: str = "",
) -> tuple[str, str]:
    """Claim, send, record. Returns (outcome, reason): outcome is a record status
    (`sent`, `failed`, `claimed`) or a refusal (`claimed_elsewhere`, `closed`, `held`)."""
    claimed = _claim(
        engine,
        request_id,
        number=number,
        already=already,
        now=now,
        public_base_url=public_base_url,
        allowed_statuses=allowed_statuses,
        actor=actor,
        detail=detail,
    )
    if isinstance(claimed, _Refusal):
        return ("claimed_elsewhere" if claimed.why == "claimed" else claimed.why), claimed.reason
    sent, error = _send_or_find(
        sms,
        to=claimed.to,
        body=claimed.body,
        since=claimed.first_attempt_at - dt.timedelta(seconds=5),
        look_first=False,
    )
    return _record_result(engine, claimed, sent, error, now), str(error or "")


@dataclass(frozen=True)
class _DueReminder:
    request_id: int
    number: int
    already: int


def _due_reminders(engine: Engine, now: dt.datetime) -> tuple[list[_DueReminder], int]:
    """Overdue requests with a reminder due now, and how many are held by quiet hours."""
    highest = (
        select(func.max(ReminderRecord.number))
        .where(ReminderRecord.request_id == PaymentRequest.id)
        .correlate(PaymentRequest)
        .scalar_subquery()
    )
    with Session(engine) as session:
        rows = session.exec(
            select(
                PaymentRequest.id,
                PaymentRequest.due_date,
                Practice.timezone,
                Practice.reminder_days,
                Practice.reminder_hour,
                Practice.max_reminders,
                highest,
            )
            .join(Practice, Practice.id == PaymentRequest.practice_id)  # type: ignore[arg-type]
            .join(Patient, Patient.id == PaymentRequest.patient_id)  # type: ignore[arg-type]
            .where(
                PaymentRequest.status == S.OVERDUE,
                Patient.sms_opted_out == sa.false(),
                Patient.mobile_e164 != "",
                # Requests that had all their reminders are not read at all.
                func.coalesce(highest, 0) < Practice.max_reminders,
            )
            .order_by(PaymentRequest.id)  # type: ignore[arg-type]
        ).all()
    due: list[_DueReminder] = []
    held_by_clock = 0
    for request_id, due_date, tz, days, hour, max_reminders, already in rows:
        number = due_reminder_number(
            due_date, tz, now, days, hour, int(already or 0), max_reminders
        )
        if number is None:
            continue
        if not sms_caps.within_texting_hours(tz, now):
            held_by_clock += 1  # no need to ask the database: the clock says no
            continue
        due.append(_DueReminder(int(request_id or 0), number, int(already or 0)))
    return due, held_by_clock


def _finish_interrupted_claims(
    engine: Engine, sms: TextSender, now: dt.datetime, result: SweepResult
) -> None:
    """Claimed reminders whose result was never recorded (crash, or Twilio silent)."""
    with Session(engine) as session:
        stale = session.exec(
            select(ReminderRecord.id, SmsMessage.id)
            .join(SmsMessage, SmsMessage.id == ReminderRecord.sms_message_id)  # type: ignore[arg-type]
            .where(
                ReminderRecord.status == "claimed",
                SmsMessage.status == "pending",
                SmsMessage.updated_at <= now - STALE_CLAIM_AFTER,
            )
        ).all()
    for record_id, message_id in stale:
        with Session(engine, expire_on_commit=False) as session:
            # Take the claim over: only one worker's conditional UPDATE matches.
            taken = (
                session.connection()
                .execute(
                    sa.update(SmsMessage)
                    .where(
                        SmsMessage.id == message_id,  # type: ignore[arg-type]
                        SmsMessage.status == "pending",  # type: ignore[arg-type]
                        SmsMessage.updated_at <= now - STALE_CLAIM_AFTER,  # type: ignore[arg-type]
                    )
                    .values(updated_at=now)
                )
                .rowcount
            )
            if taken != 1:
                session.rollback()
                continue
            record = session.get(ReminderRecord, record_id)
            message = session.get(SmsMessage, message_id)
            assert record is not None and message is not None
            request = session.get(PaymentRequest, record.request_id)
            assert request is not None
            hold = sms_caps.check(
                session,
                request.patient_id,
                sms_caps.practice_timezone(session, request.practice_id),
                now,
                kind=sms_caps.TextKind.REMINDER,
                ignore_message_id=message_id,
            )
            give_up = (
                request.status not in REMINDABLE_NOW  # paid or canceled meanwhile
                or (hold is not None and hold.until is None)  # opted out
                or _highest_reminder_number(session, request.id or 0) > record.number
                or now - message.created_at > ABANDON_CLAIM_AFTER
            )
            session.commit()
            claim = _Claim(
                request_id=request.id or 0,
                record_id=record_id,
                message_id=message_id,
                number=record.number,
                to=message.to_e164,
                body=message.body,
                first_attempt_at=message.created_at,
                actor="system",
            )
        since = claim.first_attempt_at - dt.timedelta(seconds=5)
        try:
            found = sms.find_sent(to=claim.to, body=claim.body, since=since)
        except SmsError:
            continue  # cannot tell whether it went out: ask again next run
        if found is not None:
            _record_result(engine, claim, found, None, now)
            result.reminders_sent += 1
            continue
        if give_up:
            _abandon_claim(engine, claim, now)
            result.reminders_failed += 1
            continue
        if hold is not None:
            result.reminders_held += 1
            continue
        sent, error = _send_or_find(
            sms, to=claim.to, body=claim.body, since=since, look_first=False
        )
        outcome = _record_result(engine, claim, sent, error, now)
        _count(result, outcome)


def _abandon_claim(engine: Engine, claim: _Claim, now: dt.datetime) -> None:
    """Not sent (Twilio has no such text) and no longer worth sending."""
    with Session(engine) as session:
        record = session.get(ReminderRecord, claim.record_id)
        message = session.get(SmsMessage, claim.message_id)
        assert record is not None and message is not None
        if record.status != "claimed":
            return
        record.status = "failed"
        record.detail = "Not sent: Twilio did not answer in time, or the request closed"
        # Never reached Twilio, so it does not count toward the patient's caps.
        message.status = "failed"
        message.updated_at = now
        session.add_all([record, message])
        session.commit()


def _count(result: SweepResult, outcome: str) -> None:
    if outcome == "sent":
        result.reminders_sent += 1
    elif outcome == "failed":
        result.reminders_failed += 1
    elif outcome == "claimed":
        result.reminders_pending += 1
    elif outcome == "claimed_elsewhere":
        result.claims_lost += 1
    elif outcome == "held":
        result.reminders_held += 1


def send_due_reminders(
    engine: Engine, sms: TextSender, *, public_base_url: str, now: dt.datetime
) -> SweepResult:
    result = SweepResult()
    _finish_interrupted_claims(engine, sms, now, result)
    due, result.reminders_held = _due_reminders(engine, now)
    for reminder in due:
        outcome, _reason = _remind(
            engine,
            sms,
            reminder.request_id,
            number=reminder.number,
            already=reminder.already,
            now=now,
            public_base_url=public_base_url,
            allowed_statuses=frozenset({S.OVERDUE}),
            actor="system",
        )
        _count(result, outcome)
        if outcome in ("sent", "failed", "claimed"):
            result.reminders_skipped += reminder.number - reminder.already - 1
    return result


def send_reminder_now(
    engine: Engine,
    who_clinician_id: int,
    request_id: int,
    sms: TextSender,
    public_base_url: str,
    now: dt.datetime | None = None,
) -> ReminderNowResult:
    """ "Send reminder now" in the request's detail panel: the next reminder number, with
    the same claim, caps and quiet hours as the scheduler. Raises NotFoundError for a
    request that is not this clinician's."""
    now = now or utcnow()
    with Session(engine) as session:
        request = session.get(PaymentRequest, request_id)
        if request is None or request.clinician_id != who_clinician_id:
            raise NotFoundError("Payment request not found")
        if request.status in paylink.PAID_STATUSES:
            return ReminderNowResult(False, "This request is paid: no reminder is needed.")
        if request.status == S.CANCELED:
            return ReminderNowResult(False, "This request was canceled: no reminder is sent.")
        if request.status not in REMINDABLE_NOW:
            return ReminderNowResult(
                False, "The payment request has not been texted yet: use Retry instead."
            )
        practice = session.get(Practice, request.practice_id)
        assert practice is not None
        already = _highest_reminder_number(session, request_id)
        if already >= practice.max_reminders:
            return ReminderNowResult(
                False,
                f"This request has had its {practice.max_reminders} reminders "
                "already: no more are sent.",
            )
    outcome, reason = _remind(
        engine,
        sms,
        request_id,
        number=already + 1,
        already=already,
        now=now,
        public_base_url=public_base_url,
        allowed_statuses=REMINDABLE_NOW,
        actor=f"clinician:{who_clinician_id}",
        detail="Sent by the clinician",
    )
    if outcome == "sent":
        return ReminderNowResult(True, "Reminder sent by text message.")
    if outcome == "failed":
        return ReminderNowResult(False, f"Reminder not sent: {reason}")
    if outcome == "claimed":
        return ReminderNowResult(
            False, "Twilio did not answer. The reminder will be checked and sent shortly."
        )
    return ReminderNowResult(False, reason)


# -- step 3: missed webhooks ---------------------------------------------------------------
CHECKED_OPEN = "checkout_checked_open"
CHECKED_CLOSED = "checkout_checked_closed"


def _unchecked_checkouts(engine: Engine, now: dt.datetime) -> list[tuple[int, str]]:
    """(request id, session id) of sessions to look up: each at most twice — once when it
    has been open an hour, once after it closed — remembered by an event in the history."""

    def checked(kind: str) -> sa.ColumnElement[bool]:
        return (
            select(PaymentEvent.id)
            .where(
                PaymentEvent.request_id == PaymentRequest.id,
                PaymentEvent.kind == kind,
                PaymentEvent.detail == PaymentRequest.checkout_session_id,
            )
            .correlate(PaymentRequest)
            .exists()
        )

    # created = expires_at − CHECKOUT_LIFETIME, so "created over an hour ago" is:
    opened_before_expiry = now + paylink.CHECKOUT_LIFETIME - CHECKOUT_CHECK_AFTER
    expires_at = PaymentRequest.checkout_expires_at
    with Session(engine) as session:
        rows = session.exec(
            select(PaymentRequest.id, PaymentRequest.checkout_session_id).where(
                PaymentRequest.status.in_(  # type: ignore[attr-defined]
                    sorted(lifecycle.PAYABLE_FROM - {S.AWAITING_SETUP})
                ),
                PaymentRequest.checkout_session_id != "",
                expires_at.is_not(None),  # type: ignore[union-attr]
                expires_at <= opened_before_expiry,  # type: ignore[operator]
                sa.not_(checked(CHECKED_CLOSED)),
                sa.or_(expires_at <= now, sa.not_(checked(CHECKED_OPEN))),  # type: ignore[operator]
            )
        ).all()
    return [(int(r or 0), str(s)) for r, s in rows]


def recover_missed_payments(
    engine: Engine, stripe: CheckoutLookup, *, now: dt.datetime
) -> tuple[int, int]:
    """Ask Stripe about sessions open over an hour with no webhook. (checked, recovered)"""
    checked = recovered = 0
    for request_id, session_id in _unchecked_checkouts(engine, now):
        try:
            checkout = stripe.retrieve_checkout_session(session_id)
        except StripeGatewayError:
            log.warning("checkout lookup failed for request %d; next run tries again", request_id)
            continue
        checked += 1
        with Session(engine, expire_on_commit=False) as session:
            request = lifecycle.lock_request(session, request_id)
            if request is None:
                continue
            belongs = checkout.metadata.get("jotpay_request_id") == str(request_id)
            if belongs and checkout.payment_status == "paid":
                if paylink.record_payment(
                    session,
                    request,
                    amount_cents=checkout.amount_total,
                    payment_intent_id=checkout.payment_intent_id,
                    actor="stripe",
                ):
                    lifecycle.record_event(
                        session,
                        request,
                        actor="system",
                        kind="webhook_missed",
                        detail="Payment found by asking Stripe: its webhook had not arrived",
                    )
                    recovered += 1
            else:
                closed = checkout.status in ("complete", "expired") or checkout.expires_at <= now
                lifecycle.record_event(
                    session,
                    request,
                    actor="system",
                    kind=CHECKED_CLOSED if closed else CHECKED_OPEN,
                    detail=session_id,
                )
            session.commit()
    return checked, recovered


# -- the job -------------------------------------------------------------------------------
def sweep(
    engine: Engine,
    sms: TextSender,
    stripe: CheckoutLookup,
    *,
    public_base_url: str,
    now: dt.datetime | None = None,
) -> SweepResult:
    """The overdue job: mark overdue, recover missed payments, send due reminders.

    Missed payments come before reminders so a patient who paid is not reminded. A Stripe
    lookup that fails is skipped (next run tries again): it never stops the reminders.
    """
    now = now or utcnow()
    marked, statements = mark_overdue(engine, now)
    checked, recovered = recover_missed_payments(engine, stripe, now=now)
    result = send_due_reminders(engine, sms, public_base_url=public_base_url, now=now)
    result.marked_overdue = marked
    result.overdue_statements = statements
    result.checkouts_checked = checked
    result.payments_recovered = recovered
    return result


# -- practice settings -------------------------------------------------------------------------
def update_practice_reminders(
    session: Session, practice_id: int, *, days: str, hour: str, max_reminders: str
) -> Practice:
    """Practice settings: reminder days after the due date, the hour, the maximum.

    Any clinician of the practice may change them. Raises FieldErrors (nothing saved)."""
    errors: dict[str, str] = {}
    parts = [p.strip() for p in days.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= 60 for p in parts):
        errors["days"] = "List days after the due date, like 1, 3, 7 (each 1 to 60)."
    if not hour.strip().isdigit() or not 8 <= int(hour) <= 19:
        errors["hour"] = "Choose an hour from 8 to 19 (texts go out between 8:00 and 20:00)."
    if not max_reminders.strip().isdigit() or not 0 <= int(max_reminders) <= 10:
        errors["max"] = "Choose a number from 0 to 10."
    if errors:
        raise FieldErrors(errors)
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFoundError("Practice not found")
    practice.reminder_days = ",".join(str(d) for d in sorted({int(p) for p in parts}))
    practice.reminder_hour = int(hour)
    practice.max_reminders = int(max_reminders)
    session.add(practice)
    return practice
