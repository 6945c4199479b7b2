"""Invoices: what View invoice shows and the PDF Download returns.

An invoice carries the practice, the clinician, the patient's name, the date of
service, the reason, the amount and the status (and once paid: payment date, fee,
net). It never carries a diagnosis, note content or the session type.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from fpdf import FPDF
from sqlmodel import Session

from jotpay_app.models import Appointment, Clinician, Patient, Practice
from jotpay_app.services.actions import own_request
from jotpay_app.services.auth import Identity
from jotpay_app.services.money import format_cents
from jotpay_app.services.payments import status_label
from jotpay_app.services.timefmt import format_date, to_local

PAID_LIKE = frozenset({"paid", "partially_refunded", "refunded"})
# Punctuation Helvetica's Latin-1 lacks, in the nearest plain form.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "•": "-",
        "€": "EUR",
        "\u00a0": " ",
    }
)


def invoice_reference(number: int) -> str:
    """12 -> 'INV-00012' (the same reference the receipt and the card page show)."""
    return f"INV-{number:05d}"


@dataclass(frozen=True)
class InvoiceData:
    request_id: int
    number: str  # "INV-00012"
    practice: str
    clinician: str
    patient: str
    issued: str  # the day the request was made
    date_of_service: str
    reason: str
    amount: str
    status: str  # raw status, for the badge
    status_label: str
    due: str
    paid_on: str = ""  # filled once paid
    fee: str = ""
    net: str = ""
    refunded: str = ""

    @property
    def paid(self) -> bool:
        return bool(self.paid_on)

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


def invoice_data(session: Session, who: Identity, request_id: int) -> InvoiceData:
    """The invoice of one of the clinician's own requests (NotFoundError otherwise)."""
    request = own_request(session, who, request_id)
    practice = session.get(Practice, request.practice_id)
    clinician = session.get(Clinician, request.clinician_id)
    patient = session.get(Patient, request.patient_id)
    tz = practice.timezone if practice else who.practice_timezone
    appointment = (
        session.get(Appointment, request.appointment_id) if request.appointment_id else None
    )
    made_on = to_local(request.created_at, tz).date()
    service_day: dt.date = to_local(appointment.starts_at, tz).date() if appointment else made_on
    paid = request.status in PAID_LIKE and request.paid_at is not None
    return InvoiceData(
        request_id=request.id or 0,
        number=invoice_reference(request.invoice_number),
        practice=practice.name if practice else "",
        clinician=clinician.full_name if clinician else "",
        patient=patient.full_name if patient else "",
        issued=format_date(made_on),
        date_of_service=format_date(service_day),
        reason=request.reason,
        amount=format_cents(request.amount_cents),
        status=request.status,
        status_label=status_label(request.status),
        due=format_date(request.due_date),
        paid_on=format_date(to_local(request.paid_at, tz).date())
        if paid and request.paid_at
        else "",
        fee=format_cents(request.fee_cents) if paid else "",
        net=format_cents(request.net_cents - request.amount_refunded_cents) if paid else "",
        refunded=format_cents(request.amount_refunded_cents)
        if paid and request.amount_refunded_cents
        else "",
    )


def latin1(text: str) -> str:
    """Text Helvetica (a Latin-1 core font) can draw: accents kept where Latin-1 has
    them ("José"), others reduced to their base letter ("Łukasz" -> "Lukasz"), and
    anything without a plain form (e.g. CJK) replaced by "?"."""
    out = []
    for ch in text.translate(_PLAIN):
        try:
            ch.encode("latin-1")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(plain or _special_base(ch))
    return "".join(out)


def _special_base(ch: str) -> str:
    # Letters NFKD does not decompose.
    return {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ø": "O", "ø": "o", "ı": "i"}.get(ch, "?")


def invoice_pdf(data: InvoiceData, *, compress: bool = True) -> bytes:
    """A one-page Letter-size PDF of the invoice, with Helvetica only."""
    pdf = FPDF(format="Letter", unit="pt")
    pdf.set_compression(compress)
    pdf.set_title(latin1(f"Invoice {data.number}"))
    pdf.set_author(latin1(data.practice))
    pdf.set_creator("JotPay")
    pdf.set_margins(56, 56, 56)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(width, 26, latin1(data.practice), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(width, 16, latin1(data.clinician), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(18)

    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width / 2, 22, "INVOICE")
    pdf.cell(width / 2, 22, latin1(data.number), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)

    rows: list[tuple[str, str]] = [
        ("Bill to", data.patient),
        ("Invoice date", data.issued),
        ("Date of service", data.date_of_service),
        ("Due date", data.due),
        ("Reason", data.reason),
        ("Amount", data.amount),
        ("Status", data.status_label),
    ]
    if data.paid:
        rows += [("Payment date", data.paid_on), ("Processing fee", data.fee)]
        if data.refunded:
            rows.append(("Refunded", data.refunded))
        rows.append(("Net payout", data.net))
    label_width = 130
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(label_width, 20, latin1(label))
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(width - label_width, 20, latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(16)
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(100, 100, 100)
    note = (
        "Card payments carry a processing fee of 2.9% + $0.30, deducted from the payout."
        if data.paid
        else "Pay securely with the link in the text message you received."
    )
    pdf.multi_cell(width, 13, note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
