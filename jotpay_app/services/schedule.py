"""The practice calendar: appointments laid out for a week or day view, session details."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from jotpay_app.models import (
    OPEN_STATUSES,
    Appointment,
    Clinician,
    Note,
    Patient,
    PaymentRequest,
    SessionType,
)
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.money import format_cents
from jotpay_app.services.payments import status_label
from jotpay_app.services.timefmt import format_date, format_time, local_to_utc, to_local

DAY_START_HOUR = 7
DAY_END_HOUR = 20  # exclusive: the grid shows 7:00 .. 19:59


@dataclass(frozen=True)
class CalendarDay:
    iso: str
    label: str  # "Mon 12/7"
    is_today: bool


@dataclass(frozen=True)
class CalendarAppointment:
    id: int
    day_index: int
    top_pct: float  # position in the day column, % of the visible hours
    height_pct: float
    left_pct: float  # overlapping appointments share the column side by side
    width_pct: float
    time_label: str  # start only: blocks are small
    range_label: str
    patient_name: str
    session_type: str
    color: str
    status: str
    has_note: bool


@dataclass(frozen=True)
class CalendarRange:
    title: str
    start: dt.date
    days: list[CalendarDay]
    appointments: list[CalendarAppointment]


@dataclass(frozen=True)
class SessionDetails:
    id: int
    patient_id: int
    patient_name: str
    clinician_name: str
    date: str
    time: str
    session_type: str
    session_code: str
    fee: str
    fee_cents: int
    status: str
    note_id: int
    note_content: str
    # The appointment's latest payment request (0 / "" when none).
    request_id: int
    request_status: str
    request_status_label: str
    request_amount: str
    request_open: bool


def week_start(day: dt.date) -> dt.date:
    """Weeks start on Monday."""
    return day - dt.timedelta(days=day.weekday())


def calendar_range(
    session: Session, practice_id: int, start: dt.date, days: int, tz: str, today: dt.date
) -> CalendarRange:
    first_utc = local_to_utc(dt.datetime.combine(start, dt.time()), tz)
    last_utc = local_to_utc(dt.datetime.combine(start + dt.timedelta(days=days), dt.time()), tz)
    rows = session.exec(
        select(Appointment, Patient, SessionType)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(Appointment.practice_id == practice_id)
        .where(Appointment.starts_at >= first_utc)
        .where(Appointment.starts_at < last_utc)
        .order_by(Appointment.starts_at)
    ).all()
    noted = {
        aid
        for aid in session.exec(
            select(Note.appointment_id).where(
                Note.appointment_id.in_([a.id for a, _, _ in rows])  # type: ignore[union-attr]
            )
        ).all()
    }
    visible_minutes = (DAY_END_HOUR - DAY_START_HOUR) * 60
    appointments: list[CalendarAppointment] = []
    lanes = _lanes([(a.id or 0, a.starts_at, a.ends_at) for a, _, _ in rows])
    for appt, patient, stype in rows:
        local_start = to_local(appt.starts_at, tz)
        local_end = to_local(appt.ends_at, tz)
        minutes_from_top = (local_start.hour - DAY_START_HOUR) * 60 + local_start.minute
        duration = max(15, int((local_end - local_start).total_seconds() // 60))
        minutes_from_top = min(max(minutes_from_top, 0), visible_minutes - 15)
        appointments.append(
            CalendarAppointment(
                id=appt.id or 0,
                day_index=(local_start.date() - start).days,
                top_pct=round(100 * minutes_from_top / visible_minutes, 3),
                height_pct=round(
                    100 * min(duration, visible_minutes - minutes_from_top) / visible_minutes, 3
                ),
                left_pct=round(100 * lanes[appt.id or 0][0] / lanes[appt.id or 0][1], 3),
                width_pct=round(100 / lanes[appt.id or 0][1], 3),
                time_label=format_time(appt.starts_at, tz),
                range_label=f"{format_time(appt.starts_at, tz)} – {format_time(appt.ends_at, tz)}",
                patient_name=patient.full_name,
                session_type=stype.label,
                color=stype.color,
                status=appt.status,
                has_note=appt.id in noted,
            )
        )
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    if days == 1:
        title = f"{start:%A}, {format_date(start)}"
    else:
        end = day_list[-1]
        title = (
            f"{start:%b} {start.day} – {end.day}, {end.year}"
            if start.month == end.month
            else f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
        )
    return CalendarRange(
        title=title,
        start=start,
        days=[
            CalendarDay(iso=d.isoformat(), label=f"{d:%a} {d.month}/{d.day}", is_today=d == today)
            for d in day_list
        ],
        appointments=appointments,
    )


def _lanes(
    items: list[tuple[int, dt.datetime, dt.datetime]],
) -> dict[int, tuple[int, int]]:
    """Side-by-side lanes for overlapping appointments: id -> (lane, lanes in its group).

    Items must be sorted by start. A group is a run of transitively overlapping items;
    each takes the first lane free at its start.
    """
    result: dict[int, tuple[int, int]] = {}
    group: list[tuple[int, int]] = []  # (id, lane)
    lane_ends: list[dt.datetime] = []
    group_end: dt.datetime | None = None

    def close_group() -> None:
        for item_id, lane in group:
            result[item_id] = (lane, max(len(lane_ends), 1))

    for item_id, start, end in items:
        if group_end is not None and start >= group_end:
            close_group()
            group, lane_ends, group_end = [], [], None
        lane = next((i for i, free_at in enumerate(lane_ends) if free_at <= start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        group.append((item_id, lane))
        group_end = end if group_end is None else max(group_end, end)
    close_group()
    return result


def session_details(
    session: Session, practice_id: int, appointment_id: int, tz: str
) -> SessionDetails:
    row = session.exec(
        select(Appointment, Patient, SessionType, Clinician)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .join(Clinician, Clinician.id == Appointment.clinician_id)
        .where(Appointment.id == appointment_id)
        .where(Appointment.practice_id == practice_id)
    ).first()
    if row is None:
        raise NotFoundError("Appointment not found")
    appt, patient, stype, clinician = row
    local_start = to_local(appt.starts_at, tz)
    note = session.exec(
        select(Note)
        .where(Note.appointment_id == appointment_id)
        .order_by(
            Note.created_at.desc()  # type: ignore[union-attr]
        )
    ).first()
    latest = session.exec(
        select(PaymentRequest)
        .where(PaymentRequest.appointment_id == appointment_id)
        .order_by(PaymentRequest.created_at.desc(), PaymentRequest.id.desc())  # type: ignore[union-attr]
    ).first()
    return SessionDetails(
        id=appt.id or 0,
        patient_id=patient.id or 0,
        patient_name=patient.full_name,
        clinician_name=clinician.full_name,
        date=f"{local_start:%A}, {format_date(local_start.date())}",
        time=f"{format_time(appt.starts_at, tz)} – {format_time(appt.ends_at, tz)}",
        session_type=stype.label,
        session_code=stype.code,
        fee=format_cents(stype.default_fee_cents),
        fee_cents=stype.default_fee_cents,
        status=appt.status.replace("_", " ").capitalize(),
        note_id=(note.id or 0) if note else 0,
        note_content=note.content if note else "",
        request_id=(latest.id or 0) if latest else 0,
        request_status=latest.status if latest else "",
        request_status_label=status_label(latest.status) if latest else "",
        request_amount=format_cents(latest.amount_cents) if latest else "",
        request_open=bool(latest and latest.status in OPEN_STATUSES),
    )
