"""Demo data: one demo practice (two clinicians), and a second practice to prove isolation.

`seed_if_empty` runs on every `make run` and does nothing when a practice exists;
`reseed` wipes every table and seeds again. Deterministic (fixed random seed), with
dates relative to today so the calendar always has last weeks and next weeks filled.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import Session, SQLModel, func, select

from jotpay_app.models import (
    Appointment,
    Clinician,
    Note,
    Patient,
    PaymentEvent,
    PaymentRequest,
    Practice,
    RequestStatus,
    SessionType,
    SmsMessage,
    utcnow,
)
from jotpay_app.services.auth import hash_password
from jotpay_app.services.invoices import take_invoice_number
from jotpay_app.services.money import breakdown
from jotpay_app.services.notes import NoteInput, render_note
from jotpay_app.services.timefmt import format_datetime, local_to_utc, local_today

DEMO_PASSWORD = "jotpay-demo"
DEMO_EMAIL = "demo@jotpay.local"
DEMO2_EMAIL = "demo2@jotpay.local"
OTHER_EMAIL = "other@jotpay.local"

SESSION_TYPES = [
    # code, label, fee cents, minutes, colour
    ("90791", "Intake evaluation", 25000, 60, "violet"),
    ("90837", "Psychotherapy, 53 min", 18000, 53, "blue"),
    ("90834", "Psychotherapy, 38 min", 14000, 38, "teal"),
    ("99214", "Medication management", 20000, 25, "orange"),
    ("90847", "Family therapy", 19000, 50, "pink"),
]

FIRST_NAMES = [
    "Avery",
    "Jordan",
    "Riley",
    "Morgan",
    "Casey",
    "Taylor",
    "Quinn",
    "Harper",
    "Rowan",
    "Elena",
    "Marcus",
    "Priya",
    "Daniel",
    "Sofia",
    "Noah",
    "Amara",
    "Lucas",
    "Hana",
    "Mateo",
    "Grace",
    "Isaac",
    "Leila",
    "Owen",
    "Nadia",
    "Theo",
]
LAST_NAMES = [
    "Bennett",
    "Nguyen",
    "Patel",
    "Garcia",
    "Okafor",
    "Kim",
    "Rossi",
    "Schmidt",
    "Haddad",
    "Lopez",
    "Murphy",
    "Cohen",
    "Ivanova",
    "Tanaka",
    "Williams",
    "Mensah",
    "Dubois",
    "Sato",
    "Reyes",
    "Fischer",
    "Ahmed",
    "Silva",
    "Walsh",
    "Novak",
    "Park",
]
NO_MOBILE_INDEXES = {3, 11, 19, 24}  # a few patients without a mobile number

NOTE_SNIPPETS = [
    NoteInput(
        subjective="Reports improved sleep since last visit; work stress still high.",
        objective="Alert, engaged, affect congruent. Speech normal rate.",
        assessment="Progressing toward goals; stress-management skills emerging.",
        plan="Continue weekly sessions; practise the breathing exercise daily.",
    ),
    NoteInput(
        subjective="Describes a difficult week with family conflict.",
        objective="Tearful at times, cooperative, good insight.",
        assessment="Adjustment difficulties; no safety concerns raised.",
        plan="Explore communication strategies next session.",
    ),
    NoteInput(
        subjective="Feels medication is helping; mild morning nausea.",
        objective="Calm, well groomed, organised thought process.",
        assessment="Good response to current regimen.",
        plan="Take with food; follow up in four weeks.",
    ),
]


@dataclass(frozen=True)
class SeedSummary:
    practices: int
    clinicians: int
    patients: int
    appointments: int
    notes: int
    requests: int


def is_empty(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Practice)).one() == 0


def seed_if_empty(session: Session, *, today: dt.date | None = None) -> SeedSummary | None:
    if not is_empty(session):
        return None
    return _seed(session, today=today)


def reseed(session: Session, *, today: dt.date | None = None) -> SeedSummary:
    """Delete all rows (children first) and seed again."""
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name == "alembic_version":
            continue
        session.execute(table.delete())
    session.flush()
    return _seed(session, today=today)


def _seed(session: Session, *, today: dt.date | None) -> SeedSummary:
    rng = random.Random(20261204)
    demo = Practice(name="Riverside Counseling", timezone="America/New_York")
    other = Practice(name="Lakeside Psychiatry", timezone="America/Chicago")
    session.add_all([demo, other])
    session.flush()
    assert demo.id is not None and other.id is not None
    today = today or local_today(demo.timezone)

    password_hash = hash_password(DEMO_PASSWORD)
    maya = Clinician(
        practice_id=demo.id,
        email=DEMO_EMAIL,
        full_name="Dr. Maya Chen",
        password_hash=password_hash,
    )
    sam = Clinician(
        practice_id=demo.id,
        email=DEMO2_EMAIL,
        full_name="Sam Ortiz, LCSW",
        password_hash=password_hash,
    )
    lena = Clinician(
        practice_id=other.id,
        email=OTHER_EMAIL,
        full_name="Dr. Lena Brandt",
        password_hash=password_hash,
    )
    session.add_all([maya, sam, lena])
    types = {}
    for practice in (demo, other):
        for code, label, fee, minutes, color in SESSION_TYPES:
            stype = SessionType(
                practice_id=practice.id or 0,
                code=code,
                label=label,
                default_fee_cents=fee,
                duration_minutes=minutes,
                color=color,
            )
            session.add(stype)
            types[(practice.id, code)] = stype
    session.flush()

    consent_at = utcnow() - dt.timedelta(days=60)
    patients: list[Patient] = []
    for i in range(25):
        first, last = FIRST_NAMES[i], LAST_NAMES[i]
        has_mobile = i not in NO_MOBILE_INDEXES
        patients.append(
            Patient(
                practice_id=demo.id,
                first_name=first,
                last_name=last,
                date_of_birth=dt.date(1960 + (i * 7) % 45, 1 + i % 12, 1 + (i * 3) % 28),
                email=f"{first.lower()}.{last.lower()}@example.com",
                mobile_e164=f"+1617555{(1000 + i * 37) % 10000:04d}" if has_mobile else "",
                sms_consent_at=consent_at if has_mobile else None,
                sms_consent_method="In writing (intake form)" if has_mobile else "",
            )
        )
    other_patients = [
        Patient(
            practice_id=other.id,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@example.org",
            mobile_e164=f"+1312555{2000 + n:04d}",
            sms_consent_at=consent_at,
            sms_consent_method="Verbally, in session",
        )
        for n, (first, last) in enumerate(
            [("Clara", "Whitfield"), ("Jonas", "Eriksen"), ("Mira", "Kowalski")]
        )
    ]
    session.add_all(patients + other_patients)
    session.flush()

    appointments = _appointments(session, rng, demo, [maya, sam], patients, types, today)
    _appointments(session, rng, other, [lena], other_patients, types, today, count=8)
    notes = _notes(session, rng, demo, appointments)
    requests = _demo2_requests(session, demo, sam, patients, appointments, types)
    session.flush()
    return SeedSummary(
        practices=2,
        clinicians=3,
        patients=len(patients) + len(other_patients),
        appointments=len(appointments),
        notes=notes,
        requests=requests,
    )


def _appointments(
    session: Session,
    rng: random.Random,
    practice: Practice,
    clinicians: list[Clinician],
    patients: list[Patient],
    types: dict,
    today: dt.date,
    count: int = 80,
) -> list[Appointment]:
    """`count` appointments on weekdays from 3 weeks ago to 2 weeks ahead, no double booking."""
    start = today - dt.timedelta(days=21)
    days = [start + dt.timedelta(days=i) for i in range(35)]
    weekdays = [d for d in days if d.weekday() < 5]
    slots = [(d, h, c) for d in weekdays for h in (9, 10, 11, 13, 14, 15, 16) for c in clinicians]
    rng.shuffle(slots)
    codes = ["90837", "90837", "90834", "99214", "90847", "90791"]
    now = utcnow()
    result: list[Appointment] = []
    for day, hour, clinician in sorted(slots[:count], key=lambda s: (s[0], s[1])):
        patient = rng.choice(patients)
        stype = types[(practice.id, rng.choice(codes))]
        starts = local_to_utc(dt.datetime.combine(day, dt.time(hour, 0)), practice.timezone)
        ends = starts + dt.timedelta(minutes=stype.duration_minutes)
        status = "scheduled"
        if ends < now:
            status = rng.choices(["completed", "no_show", "canceled"], [16, 1, 1])[0]
        appt = Appointment(
            practice_id=practice.id or 0,
            patient_id=patient.id or 0,
            clinician_id=clinician.id or 0,
            session_type_id=stype.id or 0,
            starts_at=starts,
            ends_at=ends,
            status=status,
        )
        session.add(appt)
        result.append(appt)
    session.flush()
    return result


def _notes(
    session: Session, rng: random.Random, practice: Practice, appointments: list[Appointment]
) -> int:
    patients = {p.id: p for p in session.exec(select(Patient)).all()}
    clinicians = {c.id: c for c in session.exec(select(Clinician)).all()}
    types = {t.id: t for t in session.exec(select(SessionType)).all()}
    completed = [a for a in appointments if a.status == "completed"]
    count = 0
    for appt in completed[: len(completed) * 2 // 3]:
        snippet = rng.choice(NOTE_SNIPPETS)
        stype = types[appt.session_type_id]
        session.add(
            Note(
                practice_id=practice.id or 0,
                appointment_id=appt.id or 0,
                clinician_id=appt.clinician_id,
                content=render_note(
                    snippet,
                    patient_name=patients[appt.patient_id].full_name,
                    clinician_name=clinicians[appt.clinician_id].full_name,
                    session_label=f"{stype.label} ({stype.code})",
                    when=format_datetime(appt.starts_at, practice.timezone),
                ),
                created_at=appt.ends_at + dt.timedelta(minutes=10),
                # Seeded notes are history: their action cards were dealt with long ago.
                action_card_dismissed_at=appt.ends_at + dt.timedelta(minutes=11),
            )
        )
        count += 1
    return count


def _demo2_requests(
    session: Session,
    practice: Practice,
    clinician: Clinician,
    patients: list[Patient],
    appointments: list[Appointment],
    types: dict,
) -> int:
    """demo2's history: one or more requests in every status a connected clinician sees."""
    now = utcnow()
    past = [
        a
        for a in appointments
        if a.clinician_id == clinician.id
        and a.status == "completed"
        and patients_by_id(patients)[a.patient_id].mobile_e164
    ]
    plan = [
        (RequestStatus.PAID, 0),
        (RequestStatus.PAID, 0),
        (RequestStatus.PAID, 0),
        (RequestStatus.SENT, 0),
        (RequestStatus.SENT, 0),
        (RequestStatus.OVERDUE, 0),
        (RequestStatus.PAYMENT_FAILED, 0),
        (RequestStatus.SMS_FAILED, 0),
        (RequestStatus.PARTIALLY_REFUNDED, 5000),
        (RequestStatus.REFUNDED, 0),
        (RequestStatus.CANCELED, 0),
    ]
    by_id = patients_by_id(patients)
    type_by_id = {t.id: t for t in types.values()}
    count = 0
    for (status, refund), appt in zip(plan, past, strict=False):
        patient = by_id[appt.patient_id]
        stype = type_by_id[appt.session_type_id]
        amount = stype.default_fee_cents
        fees = breakdown(amount)
        created = appt.ends_at + dt.timedelta(minutes=15)
        due = (created + dt.timedelta(days=7)).date()
        if status == RequestStatus.OVERDUE:
            due = (now - dt.timedelta(days=3)).date()
        request = PaymentRequest(
            practice_id=practice.id or 0,
            clinician_id=clinician.id or 0,
            patient_id=patient.id or 0,
            appointment_id=appt.id,
            invoice_number=take_invoice_number(session, practice.id or 0),
            amount_cents=amount,
            fee_cents=fees.fee_cents,
            net_cents=fees.net_cents,
            reason="Session fee",
            due_date=due,
            status=status,
            pay_token=secrets.token_urlsafe(24),
            submit_key=uuid.uuid4().hex,
            created_at=created,
            updated_at=created,
            sent_at=None if status == RequestStatus.SMS_FAILED else created,
        )
        paid_states = (RequestStatus.PAID, RequestStatus.PARTIALLY_REFUNDED, RequestStatus.REFUNDED)
        if status in paid_states:
            request.paid_at = created + dt.timedelta(hours=5)
        if status == RequestStatus.PARTIALLY_REFUNDED:
            request.amount_refunded_cents = refund
        if status == RequestStatus.REFUNDED:
            request.amount_refunded_cents = amount
        if status == RequestStatus.PAYMENT_FAILED:
            request.failure_reason = "Your card was declined."
        if status == RequestStatus.SMS_FAILED:
            request.failure_reason = "SMS not sent: the carrier did not accept the message."
        if status == RequestStatus.CANCELED:
            request.canceled_at = created + dt.timedelta(days=1)
        if status == RequestStatus.OVERDUE:
            request.overdue_at = now - dt.timedelta(days=2)
        session.add(request)
        session.flush()
        _history(session, request, status, clinician.id or 0, patient.mobile_e164)
        count += 1
    return count


def patients_by_id(patients: list[Patient]) -> dict[int, Patient]:
    return {p.id or 0: p for p in patients}


def _history(
    session: Session, request: PaymentRequest, status: str, clinician_id: int, to: str
) -> None:
    at = request.created_at
    events = [("created", "", RequestStatus.SENDING, f"clinician:{clinician_id}")]
    if status == RequestStatus.SMS_FAILED:
        events.append(("sms_failed", RequestStatus.SENDING, RequestStatus.SMS_FAILED, "twilio"))
    else:
        events.append(("sms_sent", RequestStatus.SENDING, RequestStatus.SENT, "twilio"))
        session.add(
            SmsMessage(
                practice_id=request.practice_id,
                patient_id=request.patient_id,
                request_id=request.id,
                to_e164=to,
                body="(demo history)",
                status="delivered",
                created_at=at,
                updated_at=at,
            )
        )
    if status in (RequestStatus.PAID, RequestStatus.PARTIALLY_REFUNDED, RequestStatus.REFUNDED):
        events.append(("paid", RequestStatus.SENT, RequestStatus.PAID, "stripe"))
    if status == RequestStatus.PARTIALLY_REFUNDED:
        events.append(("refunded", RequestStatus.PAID, status, f"clinician:{clinician_id}"))
    if status == RequestStatus.REFUNDED:
        events.append(("refunded", RequestStatus.PAID, status, f"clinician:{clinician_id}"))
    if status == RequestStatus.PAYMENT_FAILED:
        events.append(("payment_failed", RequestStatus.SENT, status, "stripe"))
    if status == RequestStatus.OVERDUE:
        events.append(("overdue", RequestStatus.SENT, status, "system"))
    if status == RequestStatus.CANCELED:
        events.append(("canceled", RequestStatus.SENT, status, f"clinician:{clinician_id}"))
    for n, (kind, old, new, actor) in enumerate(events):
        session.add(
            PaymentEvent(
                request_id=request.id or 0,
                at=at + dt.timedelta(minutes=n),
                actor=actor,
                kind=kind,
                from_status=old,
                to_status=new,
            )
        )
