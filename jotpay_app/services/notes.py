"""Session notes: a deterministic SOAP template filled from what the clinician enters.

Writing notes with AI is not this product; what matters here is that a real note is
saved and that "a note was generated for a session" is an explicit event, because
that is the moment the payment action card appears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from jotpay_app.models import Appointment, Clinician, Note, Patient, SessionType, utcnow
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.timefmt import format_datetime

MAX_FIELD_CHARS = 2000


@dataclass(frozen=True)
class NoteInput:
    subjective: str  # what the patient reports
    objective: str  # what the clinician observed
    assessment: str
    plan: str


@dataclass(frozen=True)
class NoteGenerated:
    """Raised (as an event, not an exception) right after a note is saved."""

    note_id: int
    appointment_id: int
    patient_id: int
    clinician_id: int
    practice_id: int


NoteGeneratedListener = Callable[[Session, NoteGenerated], None]
_listeners: list[NoteGeneratedListener] = []


def on_note_generated(listener: NoteGeneratedListener) -> NoteGeneratedListener:
    """Register a function called (in the same transaction) whenever a note is generated."""
    _listeners.append(listener)
    return listener


def validate_note_input(data: NoteInput) -> None:
    errors: dict[str, str] = {}
    if not data.subjective.strip():
        errors["subjective"] = "Describe what the patient reported."
    if not data.plan.strip():
        errors["plan"] = "Enter the plan."
    for name in ("subjective", "objective", "assessment", "plan"):
        if len(getattr(data, name)) > MAX_FIELD_CHARS:
            errors[name] = f"Keep this under {MAX_FIELD_CHARS} characters."
    if errors:
        raise FieldErrors(errors)


def render_note(
    data: NoteInput, *, patient_name: str, clinician_name: str, session_label: str, when: str
) -> str:
    def section(title: str, text: str, fallback: str) -> str:
        return f"{title}\n{text.strip() or fallback}"

    return "\n\n".join(
        [
            f"SESSION NOTE — {session_label}\nPatient: {patient_name}\n"
            f"Clinician: {clinician_name}\nDate of service: {when}",
            section("S — Subjective", data.subjective, "Not recorded."),
            section("O — Objective", data.objective, "No additional observations."),
            section("A — Assessment", data.assessment, "Unchanged from prior session."),
            section("P — Plan", data.plan, "Continue current plan."),
        ]
    )


def generate_note(
    session: Session,
    *,
    practice_id: int,
    clinician_id: int,
    appointment_id: int,
    data: NoteInput,
    tz: str,
) -> tuple[Note, NoteGenerated]:
    validate_note_input(data)
    row = session.exec(
        select(Appointment, Patient, SessionType)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(Appointment.id == appointment_id)
        .where(Appointment.practice_id == practice_id)
    ).first()
    if row is None:
        raise NotFoundError("Appointment not found")
    appt, patient, stype = row
    clinician = session.get(Clinician, clinician_id)
    if clinician is None or clinician.practice_id != practice_id:
        raise NotFoundError("Clinician not found")
    note = Note(
        practice_id=practice_id,
        appointment_id=appointment_id,
        clinician_id=clinician_id,
        content=render_note(
            data,
            patient_name=patient.full_name,
            clinician_name=clinician.full_name,
            session_label=f"{stype.label} ({stype.code})",
            when=format_datetime(appt.starts_at, tz),
        ),
        created_at=utcnow(),
    )
    session.add(note)
    if appt.status == "scheduled" and appt.starts_at <= utcnow():
        appt.status = "completed"
        session.add(appt)
    session.flush()
    event = NoteGenerated(
        note_id=note.id or 0,
        appointment_id=appointment_id,
        patient_id=patient.id or 0,
        clinician_id=clinician_id,
        practice_id=practice_id,
    )
    for listener in _listeners:
        listener(session, event)
    return note, event


@dataclass(frozen=True)
class NoteCandidate:
    """An appointment a note can be written for (listed on the Notes page)."""

    id: int
    label: str
    patient_name: str
    has_note: bool


def note_candidates(
    session: Session,
    practice_id: int,
    tz: str,
    *,
    days_back: int = 14,
    include_id: int | None = None,
) -> list[NoteCandidate]:
    """Appointments of the last `days_back` days up to the end of today, newest first.

    `include_id` (the session the clinician came from) is listed too, whatever its
    date, when it belongs to the practice and was not canceled.
    """
    import datetime as dt

    import sqlalchemy as sa

    from jotpay_app.services.timefmt import format_time, to_local

    now = utcnow()
    in_window = sa.and_(
        Appointment.starts_at >= now - dt.timedelta(days=days_back),
        Appointment.starts_at <= now + dt.timedelta(hours=12),
    )
    rows = session.exec(
        select(Appointment, Patient, SessionType)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(Appointment.practice_id == practice_id)
        .where(sa.or_(in_window, Appointment.id == (include_id or 0)))
        .where(Appointment.status != "canceled")
        .order_by(Appointment.starts_at.desc())  # type: ignore[union-attr]
    ).all()
    noted = set(
        session.exec(
            select(Note.appointment_id).where(
                Note.appointment_id.in_([a.id for a, _, _ in rows])  # type: ignore[union-attr]
            )
        ).all()
    )
    result = []
    for appt, patient, stype in rows:
        local = to_local(appt.starts_at, tz)
        result.append(
            NoteCandidate(
                id=appt.id or 0,
                label=f"{local:%a} {local:%b} {local.day}, {format_time(appt.starts_at, tz)} · "
                f"{patient.full_name} · {stype.label}",
                patient_name=patient.full_name,
                has_note=appt.id in noted,
            )
        )
    return result
