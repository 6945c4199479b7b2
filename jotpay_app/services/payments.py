"""Reading a clinician's payment requests (Payment Settings). Paged in the database.

The query itself (filters, sorting, the last text's delivery status) lives in
`services/dashboard.py`; this module keeps the row shape and the status wording shared
with the patient profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from jotpay_app.models import RequestStatus

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

# Delivery of the request's last text, as Twilio reports it (see webhooks.SMS_STATUS_RANK).
SMS_DELIVERY_LABELS: dict[str, str] = {
    "": "",
    "pending": "Sending",
    "accepted": "Sending",
    "queued": "Sending",
    "sending": "Sending",
    "sent": "Sent to carrier",
    "delivered": "Delivered",
    "failed": "Not delivered",
    "undelivered": "Not delivered",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def sms_delivery_label(status: str | None) -> str:
    status = status or ""
    return SMS_DELIVERY_LABELS.get(status, status.replace("_", " ").capitalize())


@dataclass(frozen=True)
class RequestRow:
    """One table row, formatted for display in the practice's time zone.

    Fee, net and refunded are filled only once the request is paid (before that the fee
    is a projection, not money). `net` is what the clinician keeps: amount - fee -
    refunded (a refund reverses the transfer; the fee is not returned).
    """

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
    # The "Sent" column: when the request was made (the same moment as `created`).
    sent: str = ""
    # Delivery of the last text of the request ("delivered", "failed", ... or "").
    sms_delivery: str = ""
    sms_delivery_label: str = ""
    refunded: str = ""
    # A payment that arrived after cancel: recorded, flagged for the clinician to refund.
    needs_attention: bool = False
    amount_cents: int = 0
    refundable_cents: int = 0


@dataclass(frozen=True)
class RequestPage:
    rows: list[RequestRow]
    total: int
    page: int
    page_size: int
    page_count: int = 1


def clinician_requests(
    session: Session, clinician_id: int, tz: str, *, page: int = 1, page_size: int = 25
) -> RequestPage:
    """One page of the clinician's own requests, newest first (never every row)."""
    # Imported here: dashboard builds on this module's labels and row shape.
    from jotpay_app.services.dashboard import RequestQuery, query_requests

    return query_requests(
        session, RequestQuery(clinician_id=clinician_id, tz=tz, page=page, page_size=page_size)
    )
