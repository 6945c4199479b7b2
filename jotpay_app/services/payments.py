"""Reading a clinician's payment requests (Payment Settings). Paged in the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, func, select

from jotpay_app.models import Patient, PaymentRequest, RequestStatus
from jotpay_app.services.money import format_cents
from jotpay_app.services.timefmt import format_date, format_datetime

STATUS_LABELS: dict[str, str] = {
    RequestStatus.AWAITING_SETUP: "Awaiting setup",
    RequestStatus.SENDING: "Sending",
    RequestStatus.SMS_FAILED: "SMS not sent",
    RequestStatus.SENT: "Sent",
    RequestStatus.PAYMENT_FAILED: "Payment failed",
    RequestStatus.OVERDUE: "Overdue",
    RequestStatus.PAID: "Paid",
    RequestStatus.PARTIALLY_REFUNDED: "Partially refunded",
    RequestStatus.REFUNDED: "Refunded",
    RequestStatus.CANCELED: "Canceled",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


@dataclass(frozen=True)
class RequestRow:
    id: int
    invoice_number: int
    patient_name: str
    amount: str
    reason: str
    created: str
    due: str
    status: str
    status_label: str
    paid: str
    fee: str
    net: str


@dataclass(frozen=True)
class RequestPage:
    rows: list[RequestRow]
    total: int
    page: int
    page_size: int


def clinician_requests(
    session: Session, clinician_id: int, tz: str, *, page: int = 1, page_size: int = 25
) -> RequestPage:
    """One page of the clinician's own requests, newest first (never every row)."""
    page = max(page, 1)
    total = session.exec(
        select(func.count())
        .select_from(PaymentRequest)
        .where(PaymentRequest.clinician_id == clinician_id)
    ).one()
    rows = session.exec(
        select(PaymentRequest, Patient)
        .join(Patient, Patient.id == PaymentRequest.patient_id)
        .where(PaymentRequest.clinician_id == clinician_id)
        .order_by(PaymentRequest.created_at.desc(), PaymentRequest.id.desc())  # type: ignore[union-attr]
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    paid_like = {RequestStatus.PAID, RequestStatus.PARTIALLY_REFUNDED, RequestStatus.REFUNDED}
    return RequestPage(
        rows=[
            RequestRow(
                id=r.id or 0,
                invoice_number=r.invoice_number,
                patient_name=p.full_name,
                amount=format_cents(r.amount_cents),
                reason=r.reason,
                created=format_datetime(r.created_at, tz),
                due=format_date(r.due_date),
                status=r.status,
                status_label=status_label(r.status),
                paid=format_datetime(r.paid_at, tz),
                fee=format_cents(r.fee_cents) if r.status in paid_like else "",
                net=format_cents(r.net_cents) if r.status in paid_like else "",
            )
            for r, p in rows
        ],
        total=int(total),
        page=page,
        page_size=page_size,
    )
