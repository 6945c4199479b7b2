"""Patients of a practice: search, profile, contact details with text consent."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, func, select

from jotpay_app.models import (
    Appointment,
    Clinician,
    Note,
    Patient,
    PaymentRequest,
    SessionType,
    utcnow,
)
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.money import format_cents
from jotpay_app.services.payments import status_label
from jotpay_app.services.phones import PhoneError, display_phone, normalize_mobile
from jotpay_app.services.timefmt import format_date, format_datetime, to_local

CONSENT_METHODS = ("Verbally, in session", "In writing (intake form)", "By text message")


@dataclass(frozen=True)
class PatientListRow:
    id: int
    name: str
    mobile: str
    email: str
    next_appointment: str


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    when: str
    session_type: str
    clinician: str
    status: str
    has_note: bool


@dataclass(frozen=True)
class NoteRow:
    id: int
    appointment_id: int
    created: str
    content: str


@dataclass(frozen=True)
class PaymentRow:
    id: int
    invoice_number: int
    amount: str
    reason: str
    status: str
    status_label: str
    due: str
    created: str
    clinician: str
    detail: str  # why it failed, when it did
    retryable: bool  # "SMS not sent" and the request belongs to the viewer


@dataclass(frozen=True)
class PatientProfile:
    id: int
    first_name: str
    last_name: str
    name: str
    email: str
    mobile_e164: str
    mobile_display: str
    date_of_birth: str
    sms_consent: str
    sms_opted_out: bool
    upcoming: list[AppointmentRow]
    past: list[AppointmentRow]
    notes: list[NoteRow]
    payments: list[PaymentRow]


def get_patient(session: Session, practice_id: int, patient_id: int) -> Patient:
    """The patient if it belongs to this practice; NotFoundError otherwise (same message)."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.practice_id != practice_id:
        raise NotFoundError("Patient not found")
    return patient


def search_patients(
    session: Session, practice_id: int, query: str = "", *, limit: int = 200
) -> list[PatientListRow]:
    stmt = select(Patient).where(Patient.practice_id == practice_id)
    words = query.strip().lower().split()
    for word in words:
        like = f"%{word}%"
        digits = "".join(ch for ch in word if ch.isdigit())
        conditions = [
            func.lower(Patient.first_name).like(like),
            func.lower(Patient.last_name).like(like),
            func.lower(Patient.email).like(like),
        ]
        if len(digits) >= 3:
            conditions.append(Patient.mobile_e164.like(f"%{digits}%"))
        stmt = stmt.where(sa.or_(*conditions))
    patients = session.exec(stmt.order_by(Patient.last_name, Patient.first_name).limit(limit)).all()
    next_appointments = _next_appointment_by_patient(session, [p.id for p in patients if p.id])
    return [
        PatientListRow(
            id=p.id or 0,
            name=p.full_name,
            mobile=display_phone(p.mobile_e164),
            email=p.email,
            next_appointment=next_appointments.get(p.id or 0, ""),
        )
        for p in patients
    ]


def _next_appointment_by_patient(session: Session, patient_ids: list[int]) -> dict[int, str]:
    if not patient_ids:
        return {}
    rows = session.exec(
        select(Appointment.patient_id, func.min(Appointment.starts_at))
        .where(Appointment.patient_id.in_(patient_ids))  # type: ignore[union-attr]
        .where(Appointment.starts_at >= utcnow())
        .where(Appointment.status == "scheduled")
        .group_by(Appointment.patient_id)
    ).all()
    return {pid: format_date(starts.date()) for pid, starts in rows if starts}


def patient_profile(
    session: Session, practice_id: int, patient_id: int, tz: str, viewer_clinician_id: int = 0
) -> PatientProfile:
    patient = get_patient(session, practice_id, patient_id)
    now = utcnow()
    appointment_rows = session.exec(
        select(Appointment, SessionType, Clinician)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .join(Clinician, Clinician.id == Appointment.clinician_id)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at)
    ).all()
    noted = set(
        session.exec(
            select(Note.appointment_id)
            .where(Note.practice_id == practice_id)
            .where(
                Note.appointment_id.in_([a.id for a, _, _ in appointment_rows])  # type: ignore[union-attr]
            )
        ).all()
    )
    upcoming: list[AppointmentRow] = []
    past: list[AppointmentRow] = []
    for appt, stype, clinician in appointment_rows:
        row = AppointmentRow(
            id=appt.id or 0,
            when=format_datetime(appt.starts_at, tz),
            session_type=stype.label,
            clinician=clinician.full_name,
            status=appt.status.replace("_", " ").capitalize(),
            has_note=appt.id in noted,
        )
        (upcoming if appt.starts_at >= now else past).append(row)
    past.reverse()
    notes = session.exec(
        select(Note)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .where(Appointment.patient_id == patient_id)
        .order_by(Note.created_at.desc())  # type: ignore[union-attr]
    ).all()
    # "Who sees what": a profile shows every request of the practice for this patient.
    payments = session.exec(
        select(PaymentRequest, Clinician)
        .join(Clinician, Clinician.id == PaymentRequest.clinician_id)
        .where(PaymentRequest.practice_id == practice_id)
        .where(PaymentRequest.patient_id == patient_id)
        .order_by(PaymentRequest.created_at.desc())  # type: ignore[union-attr]
    ).all()
    consent = ""
    if patient.sms_consent_at:
        consent = (
            f"Agreed to payment texts on {format_date(to_local(patient.sms_consent_at, tz).date())}"
            f" ({patient.sms_consent_method.lower()})"
        )
    return PatientProfile(
        id=patient.id or 0,
        first_name=patient.first_name,
        last_name=patient.last_name,
        name=patient.full_name,
        email=patient.email,
        mobile_e164=patient.mobile_e164,
        mobile_display=display_phone(patient.mobile_e164),
        date_of_birth=format_date(patient.date_of_birth),
        sms_consent=consent,
        sms_opted_out=patient.sms_opted_out,
        upcoming=upcoming,
        past=past,
        notes=[
            NoteRow(
                id=n.id or 0,
                appointment_id=n.appointment_id,
                created=format_datetime(n.created_at, tz),
                content=n.content,
            )
            for n in notes
        ],
        payments=[
            PaymentRow(
                id=r.id or 0,
                invoice_number=r.invoice_number,
                amount=format_cents(r.amount_cents),
                reason=r.reason,
                status=r.status,
                status_label=status_label(r.status),
                due=format_date(r.due_date),
                created=format_datetime(r.created_at, tz),
                clinician=c.full_name,
                detail=r.failure_reason if r.status in ("sms_failed", "payment_failed") else "",
                retryable=r.status == "sms_failed" and r.clinician_id == viewer_clinician_id,
            )
            for r, c in payments
        ],
    )


def update_mobile(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    clinician_id: int,
    mobile_text: str,
    consent_given: bool,
    consent_method: str,
) -> Patient:
    """Set or clear a patient's mobile number.

    A new or changed number needs the clinician's confirmation that the patient
    agreed to payment texts (when and how are recorded). Raises FieldErrors and
    saves nothing when the input is not acceptable.
    """
    patient = get_patient(session, practice_id, patient_id)
    if not mobile_text.strip():
        # Clearing the number also clears the consent tied to it.
        patient.mobile_e164 = ""
        patient.sms_consent_at = None
        patient.sms_consent_method = ""
        patient.sms_consent_by_clinician_id = None
        session.add(patient)
        return patient
    errors: dict[str, str] = {}
    e164 = ""
    try:
        e164 = normalize_mobile(mobile_text)
    except PhoneError as exc:
        errors["mobile"] = str(exc)
    changed = e164 != patient.mobile_e164
    if changed and not consent_given:
        errors["consent"] = "Confirm that the patient agreed to receive payment texts."
    if changed and consent_given and consent_method not in CONSENT_METHODS:
        errors["consent_method"] = "Choose how the patient agreed."
    if errors:
        raise FieldErrors(errors)
    if changed:
        patient.mobile_e164 = e164
        patient.sms_consent_at = utcnow()
        patient.sms_consent_method = consent_method
        patient.sms_consent_by_clinician_id = clinician_id
        # A new number has not texted STOP to us.
        patient.sms_opted_out = False
        patient.sms_opted_out_at = None
        session.add(patient)
    return patient
