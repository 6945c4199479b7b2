"""Invoices: the data shown (and never clinical content), and a valid PDF whose text reads back."""

from __future__ import annotations

import datetime as dt
import re
import zlib

import pytest
from sqlmodel import Session

from jotpay_app.models import Note
from jotpay_app.services.auth import Identity
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.invoice_pdf import (
    InvoiceData,
    invoice_data,
    invoice_pdf,
    invoice_reference,
    latin1,
)
from tests import factories

UTC = dt.UTC
TZ = "America/Chicago"
DIAGNOSIS = "F41.1 generalized anxiety disorder"


def pdf_text(pdf: bytes) -> str:
    """The strings a PDF draws (`(...) Tj`), read from its content streams, compressed or not.

    pypdf is not a dependency; fpdf2 writes each text run as one literal string."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    content = b""
    for raw in streams:
        try:
            content += zlib.decompress(raw)
        except zlib.error:
            content += raw
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content)
    unescaped = [re.sub(rb"\\(.)", rb"\1", s) for s in strings]
    return "\n".join(s.decode("latin-1") for s in unescaped)


def who_for(clinician_id: int, practice_id: int) -> Identity:
    return Identity(clinician_id, practice_id, "Dr. Ana Rivera", "a@example.com", "Clinic", TZ)


def setup(session: Session, *, status: str = "paid", with_appointment: bool = True):
    practice = factories.practice(session, name="Riverside Counseling", tz=TZ)
    me = factories.clinician(session, practice.id or 0, name="Dr. Ana Rivera")
    colleague = factories.clinician(session, practice.id or 0, name="Dr. Ben Cho")
    patient = factories.patient(session, practice.id or 0, "José", "Łukasz-Müller")
    kind = factories.session_type(session, practice.id or 0)
    request = factories.payment_request(
        session, practice.id or 0, me.id or 0, patient.id or 0, amount_cents=18000, status=status
    )
    if with_appointment:
        appointment = factories.appointment(
            session,
            practice.id or 0,
            patient.id or 0,
            me.id or 0,
            kind.id or 0,
            starts_at=dt.datetime(2026, 3, 3, 3, 30, tzinfo=UTC),  # Mar 2, 9:30 PM in Chicago
        )
        request.appointment_id = appointment.id
        session.add(
            Note(
                practice_id=practice.id or 0,
                appointment_id=appointment.id or 0,
                clinician_id=me.id or 0,
                content=f"Assessment: {DIAGNOSIS}. Plan: CBT.",
            )
        )
    request.reason = "Session fee"
    request.created_at = dt.datetime(2026, 3, 5, 16, tzinfo=UTC)
    request.due_date = dt.date(2026, 3, 12)
    if status in ("paid", "partially_refunded", "refunded"):
        request.paid_at = dt.datetime(2026, 3, 7, 4, tzinfo=UTC)  # Mar 6 in Chicago
    if status == "partially_refunded":
        request.amount_refunded_cents = 3000
    session.add(request)
    session.flush()
    return (
        who_for(me.id or 0, practice.id or 0),
        who_for(colleague.id or 0, practice.id or 0),
        request,
    )


def test_paid_invoice_data_has_payment_fee_and_net(session: Session) -> None:
    me, _, request = setup(session)
    data = invoice_data(session, me, request.id or 0)
    assert data.number == f"INV-{request.invoice_number:05d}"
    assert (data.practice, data.clinician, data.patient) == (
        "Riverside Counseling",
        "Dr. Ana Rivera",
        "José Łukasz-Müller",
    )
    assert data.date_of_service == "Mar 2, 2026"  # the appointment's local day
    assert (data.issued, data.due) == ("Mar 5, 2026", "Mar 12, 2026")
    assert (data.amount, data.status_label, data.paid_on) == ("$180.00", "Paid", "Mar 6, 2026")
    assert (data.fee, data.net, data.refunded) == ("$5.52", "$174.48", "")


def test_unpaid_invoice_has_no_payment_lines_and_uses_the_request_date(session: Session) -> None:
    me, _, request = setup(session, status="sent", with_appointment=False)
    data = invoice_data(session, me, request.id or 0)
    assert data.date_of_service == "Mar 5, 2026"
    assert (data.status_label, data.paid_on, data.fee, data.net) == ("Sent", "", "", "")
    text = pdf_text(invoice_pdf(data))
    assert "Sent" in text and "Processing fee" not in text and "Net payout" not in text


def test_partially_refunded_invoice_shows_the_refund_in_the_net(session: Session) -> None:
    me, _, request = setup(session, status="partially_refunded")
    data = invoice_data(session, me, request.id or 0)
    assert (data.refunded, data.net) == ("$30.00", "$144.48")


def test_invoice_of_a_colleagues_request_is_not_found(session: Session) -> None:
    _, colleague, request = setup(session)
    with pytest.raises(NotFoundError):
        invoice_data(session, colleague, request.id or 0)


@pytest.mark.parametrize("compress", [True, False])
def test_pdf_is_valid_and_its_text_reads_back(session: Session, compress: bool) -> None:
    me, _, request = setup(session)
    pdf = invoice_pdf(invoice_data(session, me, request.id or 0), compress=compress)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = pdf_text(pdf)
    for expected in (
        "INVOICE",
        f"INV-{request.invoice_number:05d}",
        "Riverside Counseling",
        "Dr. Ana Rivera",
        "José Lukasz-Müller",  # Latin-1 accents kept; Ł has no Latin-1 form
        "Mar 2, 2026",
        "Session fee",
        "$180.00",
        "Paid",
        "Mar 6, 2026",
        "$5.52",
        "$174.48",
    ):
        assert expected in text, expected
    # Nothing clinical: no diagnosis, note content or session type.
    for never in ("F41", "anxiety", "CBT", "Psychotherapy", "90837"):
        assert never not in text


def test_pdf_survives_text_outside_latin_1() -> None:
    data = InvoiceData(
        request_id=1,
        number=invoice_reference(12),
        practice="Ōsaka Wellness – “Mind” Clinic",
        clinician="Dr. Zoë Ægir",
        patient="李小龍 Đorđe",
        issued="Mar 5, 2026",
        date_of_service="Mar 5, 2026",
        reason="Copay (session) \\ 50% – paid…",
        amount="$50.00",
        status="sent",
        status_label="Sent",
        due="Mar 12, 2026",
    )
    text = pdf_text(invoice_pdf(data))
    assert "INV-00012" in text
    assert 'Osaka Wellness - "Mind" Clinic' in text
    assert "Dr. Zoë Ægir" in text
    assert "??? Dorde" in text
    assert "Copay (session) \\ 50% - paid..." in text


@pytest.mark.parametrize(
    ("raw", "plain"),
    [("José", "José"), ("Łódź", "Lódz"), ("naïve", "naïve"), ("“x”", '"x"'), ("東京", "??")],
)
def test_latin1(raw: str, plain: str) -> None:
    assert latin1(raw) == plain
    plain.encode("latin-1")
