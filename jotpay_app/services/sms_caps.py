"""Limits on payment texts to one patient: caps and quiet hours (SPEC "quiet hours and
daily/weekly caps on reminders").

* At most 1 text a calendar day (practice time) and 3 in any rolling 7 days, counting
  every payment text to that patient: the first request, reminders, resends, retries.
* Texts go out only between 8:00 and 20:00 practice time.
* Caps and quiet hours hold back reminders, Resend and automatic retries; never the
  clinician's first request. Nothing goes to a patient who replied STOP.

Which rows count: every `SmsMessage` of the patient except those Twilio refused outright
(status `failed` and no Twilio sid: nothing reached the phone). A `pending` row counts —
its text may have gone out before a crash or a timeout, and a patient texted twice is
the mistake we avoid. A text Twilio accepted counts even if the carrier later reported
it failed or undelivered: the phone may still have been reached. A row is dated by its
`created_at`, when the text was first attempted.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from jotpay_app.models import Patient, PaymentRequest, Practice, SmsMessage
from jotpay_app.services.timefmt import format_date, format_time, local_to_utc, to_local

TEXTING_STARTS = dt.time(8, 0)
TEXTING_ENDS = dt.time(20, 0)  # exclusive: 19:59 may text, 20:00 may not
MAX_TEXTS_PER_DAY = 1
MAX_TEXTS_PER_ROLLING_WEEK = 3
ROLLING_WEEK = dt.timedelta(days=7)


class TextKind(enum.StrEnum):
    REQUEST = "request"  # the clinician's first request: only opt-out stops it
    REMINDER = "reminder"  # scheduled, or "Send reminder now"
    RESEND = "resend"  # the clinician resends the pay link
    RETRY = "retry"  # the scheduler retries a text that failed


# How each kind finishes the sentence "... — <next step> <when>."
_NEXT_STEP = {
    TextKind.REQUEST: "the request can go",
    TextKind.REMINDER: "the next reminder can go",
    TextKind.RESEND: "the link can be resent",
    TextKind.RETRY: "the text will be retried",
}


@dataclass(frozen=True)
class Hold:
    """Why a text may not go now, and the earliest moment (UTC) it may; `until` is None
    when waiting does not help (opted out, no mobile number)."""

    reason: str
    until: dt.datetime | None


def within_texting_hours(tz: str, now: dt.datetime) -> bool:
    local = to_local(now, tz).time()
    return TEXTING_STARTS <= local < TEXTING_ENDS


def next_texting_moment(tz: str, moment: dt.datetime) -> dt.datetime:
    """`moment` itself when it is inside texting hours, else the next 8:00 practice time."""
    if within_texting_hours(tz, moment):
        return moment
    local = to_local(moment, tz)
    day = local.date() if local.time() < TEXTING_STARTS else local.date() + dt.timedelta(days=1)
    return local_to_utc(dt.datetime.combine(day, TEXTING_STARTS), tz)


def start_of_local_day(tz: str, now: dt.datetime) -> dt.datetime:
    return local_to_utc(dt.datetime.combine(to_local(now, tz).date(), dt.time(0)), tz)


def counted_texts_since(
    session: Session, patient_id: int, since: dt.datetime, *, ignore_message_id: int | None = None
) -> list[dt.datetime]:
    """When each counted text to the patient since `since` was first attempted, oldest first."""
    refused_by_twilio = sa.and_(
        SmsMessage.status == "failed",
        SmsMessage.twilio_sid.is_(None),  # type: ignore[union-attr]
    )
    query = select(SmsMessage.created_at).where(
        SmsMessage.patient_id == patient_id,
        SmsMessage.created_at > since,
        sa.not_(refused_by_twilio),
    )
    if ignore_message_id is not None:
        query = query.where(SmsMessage.id != ignore_message_id)
    rows = session.exec(query.order_by(SmsMessage.created_at)).all()  # type: ignore[arg-type]
    return [to_local(r, "UTC") for r in rows]  # aware UTC, whatever the driver returned


def _when(tz: str, now: dt.datetime, moment: dt.datetime) -> str:
    """'today after 8:00 AM', 'tomorrow after 8:00 AM', 'on Dec 8, 2026 after 9:14 AM'."""
    day = to_local(moment, tz).date()
    today = to_local(now, tz).date()
    clock = format_time(moment, tz)
    if day == today:
        return f"today after {clock}"
    if day == today + dt.timedelta(days=1):
        return f"tomorrow after {clock}"
    return f"on {format_date(day)} after {clock}"


def check(
    session: Session,
    patient_id: int,
    tz: str,
    now: dt.datetime,
    *,
    kind: str,
    ignore_message_id: int | None = None,
) -> Hold | None:
    """None when a text of `kind` may go to the patient now; else why not and until when.

    `ignore_message_id`: the text being retried itself (it must not hold back its own retry).
    """
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.mobile_e164:
        return Hold("There is no mobile number on file for this patient.", None)
    if patient.sms_opted_out:
        return Hold(
            "The patient replied STOP to payment texts, so no text can be sent. "
            "They can text START to allow them again.",
            None,
        )
    if kind == TextKind.REQUEST:
        return None

    next_step = _NEXT_STEP.get(TextKind(kind), "the next text can go")
    texts = counted_texts_since(
        session, patient_id, now - ROLLING_WEEK, ignore_message_id=ignore_message_id
    )
    # Every limit that applies gives its earliest moment; the latest one decides, and its
    # sentence is the one shown (caps first: they explain more than the clock does).
    holds: list[tuple[dt.datetime, str]] = []
    if len(texts) >= MAX_TEXTS_PER_ROLLING_WEEK:
        # The window frees a slot when the oldest of the last three is 7 days old.
        frees_at = texts[-MAX_TEXTS_PER_ROLLING_WEEK] + ROLLING_WEEK
        until = next_texting_moment(tz, frees_at)
        holds.append(
            (
                until,
                f"Already texted {len(texts)} times in the last 7 days — "
                f"{next_step} {_when(tz, now, until)}.",
            )
        )
    today_starts = start_of_local_day(tz, now)
    if sum(1 for t in texts if t >= today_starts) >= MAX_TEXTS_PER_DAY:
        tomorrow = to_local(now, tz).date() + dt.timedelta(days=1)
        until = local_to_utc(dt.datetime.combine(tomorrow, TEXTING_STARTS), tz)
        holds.append((until, f"Already texted today — {next_step} {_when(tz, now, until)}."))
    if not within_texting_hours(tz, now):
        until = next_texting_moment(tz, now)
        holds.append(
            (
                until,
                "Texts go out only between 8:00 AM and 8:00 PM practice time — "
                f"{next_step} {_when(tz, now, until)}.",
            )
        )
    if not holds:
        return None
    until, reason = max(holds, key=lambda hold: hold[0])  # max keeps the first of equals
    return Hold(reason, until)


def blocked_reason(
    session: Session,
    patient_id: int,
    tz: str,
    now: dt.datetime,
    *,
    kind: str,
    ignore_message_id: int | None = None,
) -> str | None:
    """The sentence to show when a text of `kind` may not go to the patient now, else None."""
    hold = check(session, patient_id, tz, now, kind=kind, ignore_message_id=ignore_message_id)
    return hold.reason if hold else None


def practice_timezone(session: Session, practice_id: int) -> str:
    practice = session.get(Practice, practice_id)
    return practice.timezone if practice else "UTC"


def hold_for_retry(session: Session, request: PaymentRequest, now: dt.datetime) -> Hold | None:
    """For the automatic SMS retry job: may the request's failed text be retried now?

    Its own pending text (the one being retried) does not count against itself.
    """
    pending = session.exec(
        select(SmsMessage.id).where(
            SmsMessage.request_id == request.id,
            SmsMessage.purpose == "request",
            SmsMessage.status == "pending",
        )
    ).first()
    return check(
        session,
        request.patient_id,
        practice_timezone(session, request.practice_id),
        now,
        kind=TextKind.RETRY,
        ignore_message_id=pending,
    )
