"""Database tables (plain SQLModel). Money is integer cents; datetimes are timezone-aware UTC.

Payment tables are shaped for the whole lifecycle in the product spec so later work
adds behaviour, not columns: a request carries its pay-link token, Stripe ids,
per-practice invoice number and the timestamps each status needs; every change is
an appended `PaymentEvent` row.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    """Aware UTC "now": every stored timestamp is UTC (SQLModel's `UTCDateTime`)."""
    return dt.datetime.now(dt.UTC)


class RequestStatus(enum.StrEnum):
    AWAITING_SETUP = "awaiting_setup"
    SENDING = "sending"
    SMS_FAILED = "sms_failed"
    SENT = "sent"
    PAYMENT_FAILED = "payment_failed"
    OVERDUE = "overdue"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELED = "canceled"


OPEN_STATUSES: frozenset[RequestStatus] = frozenset(
    {
        RequestStatus.AWAITING_SETUP,
        RequestStatus.SENDING,
        RequestStatus.SMS_FAILED,
        RequestStatus.SENT,
        RequestStatus.PAYMENT_FAILED,
        RequestStatus.OVERDUE,
    }
)


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELED = "canceled"
    NO_SHOW = "no_show"


class Practice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    timezone: str = Field(default="America/New_York", max_length=64)
    # Reminder policy (used by the overdue scheduler).
    reminder_days: str = Field(default="1,3,7", max_length=64)
    reminder_hour: int = 10
    max_reminders: int = 3
    # Gap-free invoice numbers: the next one is taken under a row lock.
    next_invoice_number: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)


class Clinician(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    full_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    created_at: dt.datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """A logged-in browser. Only the SHA-256 of the token is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    clinician_id: int = Field(foreign_key="clinician.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime


class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80)
    date_of_birth: dt.date | None = None
    email: str = Field(default="", max_length=254)
    # E.164 ("+15551234567") or "" when the practice has no mobile number.
    mobile_e164: str = Field(default="", max_length=20)
    # Consent to payment texts: when and how it was given (e.g. "verbal, in session").
    sms_consent_at: dt.datetime | None = None
    sms_consent_method: str = Field(default="", max_length=120)
    sms_consent_by_clinician_id: int | None = Field(default=None, foreign_key="clinician.id")
    # Set when the patient texts STOP; cleared by START.
    sms_opted_out: bool = False
    sms_opted_out_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class SessionType(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("practice_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    code: str = Field(max_length=20)
    label: str = Field(max_length=80)
    default_fee_cents: int
    duration_minutes: int = 50
    color: str = Field(default="blue", max_length=20)


class Appointment(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_appointment_practice_start", "practice_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    clinician_id: int = Field(foreign_key="clinician.id", index=True)
    session_type_id: int = Field(foreign_key="sessiontype.id")
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str = Field(default=AppointmentStatus.SCHEDULED, max_length=20)


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    clinician_id: int = Field(foreign_key="clinician.id")
    content: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = Field(default_factory=utcnow)
    # The payment action card shown after generation; once dismissed it stays hidden.
    action_card_dismissed_at: dt.datetime | None = None


class StripeAccount(SQLModel, table=True):
    """The clinician's Stripe Connect (Express) account: payments are paid out to it."""

    id: int | None = Field(default=None, primary_key=True)
    clinician_id: int = Field(foreign_key="clinician.id", sa_column_kwargs={"unique": True})
    stripe_account_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements_due: str = Field(default="", max_length=2000)  # comma-separated
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


_OPEN_SQL = (
    "status IN ('awaiting_setup', 'sending', 'sms_failed', 'sent', 'payment_failed', 'overdue')"
)


class PaymentRequest(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("practice_id", "invoice_number"),
        sa.Index("ix_paymentrequest_clinician_created", "clinician_id", "created_at"),
        sa.Index("ix_paymentrequest_status_due", "status", "due_date"),
        # An appointment has at most one open request, enforced by the database so two
        # clinicians clicking at once cannot both create one.
        sa.Index(
            "uq_paymentrequest_open_per_appointment",
            "appointment_id",
            unique=True,
            sqlite_where=sa.text(_OPEN_SQL),
            postgresql_where=sa.text(_OPEN_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    clinician_id: int = Field(foreign_key="clinician.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id", index=True)
    note_id: int | None = Field(default=None, foreign_key="note.id")
    invoice_number: int
    amount_cents: int
    # Fee and net are fixed when recorded (2.9% + 30c) and confirmed when paid.
    fee_cents: int
    net_cents: int
    amount_refunded_cents: int = 0
    reason: str = Field(max_length=200)
    due_date: dt.date
    status: str = Field(default=RequestStatus.SENDING, max_length=24, index=True)
    # Secret in the patient's link (>= 128 bits); unique, never logged.
    pay_token: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    # Client-generated key of the submit that created this request: a retried or
    # double-clicked submit finds the existing row instead of creating another.
    submit_key: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    checkout_session_id: str = Field(default="", max_length=255)
    checkout_url: str = Field(default="", max_length=1000)
    checkout_attempt: int = 0
    checkout_expires_at: dt.datetime | None = None
    payment_intent_id: str = Field(default="", max_length=255)
    failure_reason: str = Field(default="", max_length=255)
    # A payment that arrived after cancel: recorded and flagged for a refund.
    needs_attention: bool = False
    sms_attempts: int = 0
    next_sms_attempt_at: dt.datetime | None = None
    reminders_sent: int = 0
    last_reminder_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None


class PaymentEvent(SQLModel, table=True):
    """Append-only history of a request: who did what, when."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="paymentrequest.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)  # "clinician:3", "patient", "stripe", "twilio", "system"
    kind: str = Field(max_length=40)
    from_status: str = Field(default="", max_length=24)
    to_status: str = Field(default="", max_length=24)
    detail: str = Field(default="", max_length=500)


class SmsMessage(SQLModel, table=True):
    """Every payment text: recorded before Twilio is called, updated by its callbacks."""

    # The texting caps count a patient's texts over the last days on every send.
    __table_args__ = (sa.Index("ix_smsmessage_patient_created", "patient_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="paymentrequest.id", index=True)
    purpose: str = Field(default="request", max_length=20)  # request | reminder | resend
    to_e164: str = Field(max_length=20)
    body: str = Field(max_length=640)
    twilio_sid: str | None = Field(default=None, max_length=64, sa_column_kwargs={"unique": True})
    status: str = Field(default="pending", max_length=20)
    error_code: str = Field(default="", max_length=10)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Refund(SQLModel, table=True):
    """A refund asked of Stripe. Recorded (pending) before the call, keyed for idempotency."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="paymentrequest.id", index=True)
    clinician_id: int = Field(foreign_key="clinician.id")
    amount_cents: int
    # Refunds of one request are numbered 1, 2, ...; (request, number) is unique, so a
    # second click on the same confirmation cannot create a second refund.
    number: int
    stripe_refund_id: str = Field(default="", max_length=255)
    status: str = Field(default="pending", max_length=20)  # pending | succeeded | failed
    failure_reason: str = Field(default="", max_length=255)
    # Made when the refund dialog opened: a second click on Confirm finds this refund.
    confirm_key: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("request_id", "number"),
        sa.UniqueConstraint("request_id", "confirm_key", name="uq_refund_request_confirm_key"),
    )


class ReminderRecord(SQLModel, table=True):
    """One reminder of a request: sent, or skipped (missed while the app was down, or held
    back by caps/quiet hours). Unique (request, number): no reminder is sent twice."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="paymentrequest.id", index=True)
    number: int  # 1st, 2nd, 3rd reminder
    status: str = Field(max_length=20)  # claimed | sent | skipped | failed
    detail: str = Field(default="", max_length=255)
    sms_message_id: int | None = Field(default=None, foreign_key="smsmessage.id")
    created_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (sa.UniqueConstraint("request_id", "number"),)


class ProcessedWebhook(SQLModel, table=True):
    """Ids of webhook events already applied, so a replay changes nothing."""

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # "stripe" | "twilio"
    event_id: str = Field(max_length=255)
    received_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (sa.UniqueConstraint("source", "event_id"),)
