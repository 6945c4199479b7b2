"""Payment Settings queries: paging, sorting, filters, search, totals, chart, CSV, timeline."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from jotpay_app.models import PaymentEvent, PaymentRequest, SmsMessage
from jotpay_app.services import dashboard
from jotpay_app.services.dashboard import (
    RequestQuery,
    csv_safe,
    export_csv,
    query_requests,
    timeline,
    totals,
    weekly_collected,
)
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.payments import STATUS_LABELS, clinician_requests
from tests import factories

TZ = "America/New_York"
UTC = dt.UTC
PAID_LIKE = {"paid", "partially_refunded", "refunded"}


@dataclass
class Clinic:
    practice_id: int
    clinician_id: int
    colleague_id: int
    patients: dict[str, int]


def make_clinic(session: Session) -> Clinic:
    practice = factories.practice(session, tz=TZ)
    me = factories.clinician(session, practice.id or 0, name="Dr. Ana Rivera")
    colleague = factories.clinician(session, practice.id or 0, name="Dr. Ben Cho")
    names = {
        "maria": ("Maria", "Okonkwo"),
        "jose": ("José", "Alvarez"),
        "li": ("Li", "Wei"),
        "mary": ("Mary", "Adams"),
        "evil": ("=HYPERLINK(1)", "+Plus"),
    }
    patients = {
        key: factories.patient(session, practice.id or 0, first, last).id or 0
        for key, (first, last) in names.items()
    }
    return Clinic(practice.id or 0, me.id or 0, colleague.id or 0, patients)


def make_request(
    session: Session,
    clinic: Clinic,
    patient: str = "maria",
    *,
    amount: int = 5000,
    status: str = "sent",
    created: dt.datetime | None = None,
    paid: dt.datetime | None = None,
    refunded: int = 0,
    reason: str = "Session fee",
    due: dt.date | None = None,
    clinician_id: int | None = None,
    needs_attention: bool = False,
) -> PaymentRequest:
    row = factories.payment_request(
        session,
        clinic.practice_id,
        clinician_id or clinic.clinician_id,
        clinic.patients[patient],
        amount_cents=amount,
        status=status,
    )
    row.created_at = created or dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    row.paid_at = paid if paid is not None else (row.created_at if status in PAID_LIKE else None)
    row.amount_refunded_cents = refunded
    row.reason = reason
    row.due_date = due or dt.date(2026, 3, 20)
    row.needs_attention = needs_attention
    session.add(row)
    session.flush()
    return row


def q(clinic: Clinic, **changes: Any) -> RequestQuery:
    return RequestQuery(clinician_id=clinic.clinician_id, tz=TZ, **changes)


def ids(page: dashboard.RequestPage) -> list[int]:
    return [r.id for r in page.rows]


# -- paging -----------------------------------------------------------------------------------
def test_pages_of_25_with_a_short_last_page_and_no_row_twice(session: Session) -> None:
    clinic = make_clinic(session)
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        make_request(session, clinic, created=start + dt.timedelta(hours=i)).id for i in range(60)
    ]
    first = query_requests(session, q(clinic))
    assert (first.total, first.page, first.page_count, len(first.rows)) == (60, 1, 3, 25)
    last = query_requests(session, q(clinic, page=3))
    assert (last.page, len(last.rows)) == (3, 10)
    seen = ids(first) + ids(query_requests(session, q(clinic, page=2))) + ids(last)
    assert seen == list(reversed(made))  # newest first, every row exactly once


def test_a_page_past_the_end_shows_the_last_page(session: Session) -> None:
    clinic = make_clinic(session)
    for _ in range(30):
        make_request(session, clinic)
    page = query_requests(session, q(clinic, page=99))
    assert (page.page, page.page_count, len(page.rows)) == (2, 2, 5)


def test_no_requests_is_one_empty_page(session: Session) -> None:
    clinic = make_clinic(session)
    page = query_requests(session, q(clinic))
    assert (page.rows, page.total, page.page, page.page_count) == ([], 0, 1, 1)


def test_only_the_clinicians_own_requests_are_listed(session: Session) -> None:
    clinic = make_clinic(session)
    mine = make_request(session, clinic)
    make_request(session, clinic, clinician_id=clinic.colleague_id)
    page = query_requests(session, q(clinic))
    assert ids(page) == [mine.id]
    assert clinician_requests(session, clinic.clinician_id, TZ).total == 1


def test_bad_sort_or_status_is_refused(session: Session) -> None:
    clinic = make_clinic(session)
    with pytest.raises(dashboard.QueryError):
        query_requests(session, q(clinic, sort="pay_token"))
    with pytest.raises(dashboard.QueryError):
        query_requests(session, q(clinic, direction="sideways"))
    with pytest.raises(dashboard.QueryError):
        query_requests(session, q(clinic, statuses=("bogus",)))


# -- sorting ----------------------------------------------------------------------------------
def sortable_set(session: Session, clinic: Clinic) -> list[PaymentRequest]:
    """Rows with ties, nulls and every status, so tie-breaks and empty cells matter."""
    base = dt.datetime(2026, 2, 1, 14, tzinfo=UTC)
    specs = [
        ("maria", 5000, "paid", "Copay", 0, 0),
        ("jose", 18000, "sent", "session fee", 0, 1),
        ("li", 5000, "refunded", "Balance", 5000, 2),
        ("mary", 7500, "partially_refunded", "copay", 2000, 3),
        ("maria", 100, "overdue", "No-show fee", 0, 4),
        ("jose", 18000, "canceled", "Late cancellation", 0, 5),
        ("li", 7500, "sms_failed", "Session fee", 0, 6),
        ("mary", 5000, "payment_failed", "Copay", 0, 7),
        ("maria", 99999, "paid", "Outstanding balance", 0, 8),
        ("jose", 5000, "awaiting_setup", "Session fee", 0, 9),
        ("li", 5000, "sending", "Copay", 0, 10),
        ("mary", 5000, "paid", "Copay", 0, 11),
    ]
    rows = []
    for patient, amount, status, reason, refunded, n in specs:
        created = base + dt.timedelta(days=n % 5, hours=n)
        rows.append(
            make_request(
                session,
                clinic,
                patient,
                amount=amount,
                status=status,
                reason=reason,
                refunded=refunded,
                created=created,
                paid=created + dt.timedelta(days=(7 - n) % 4) if status in PAID_LIKE else None,
                due=dt.date(2026, 2, 10 + n % 3),
            )
        )
    return rows


def expected_order(
    session: Session, rows: list[PaymentRequest], sort: str, direction: str
) -> list[int]:
    from jotpay_app.models import Patient

    def name(r: PaymentRequest) -> tuple[str, str]:
        p = session.get(Patient, r.patient_id)
        assert p is not None
        return (p.last_name.lower(), p.first_name.lower())

    def paid_only(value: Callable[[PaymentRequest], int]) -> Callable[[PaymentRequest], Any]:
        return lambda r: value(r) if r.status in PAID_LIKE else None

    keys: dict[str, Callable[[PaymentRequest], Any]] = {
        "patient": name,
        "amount": lambda r: r.amount_cents,
        "reason": lambda r: r.reason.lower(),
        "sent": lambda r: r.created_at,
        "due": lambda r: r.due_date,
        "status": lambda r: STATUS_LABELS[r.status].lower(),
        "paid": lambda r: r.paid_at,
        "fee": paid_only(lambda r: r.fee_cents),
        "net": paid_only(lambda r: r.net_cents - r.amount_refunded_cents),
    }
    key = keys[sort]
    reverse = direction == "desc"
    with_value = [r for r in rows if key(r) is not None]
    empty = [r for r in rows if key(r) is None]
    ordered = sorted(with_value, key=lambda r: (key(r), r.id), reverse=reverse)
    return [r.id or 0 for r in ordered] + sorted((r.id or 0 for r in empty), reverse=reverse)


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", dashboard.SORT_COLUMNS)
def test_every_column_sorts_both_ways_with_a_stable_tie_break(
    session: Session, sort: str, direction: str
) -> None:
    clinic = make_clinic(session)
    rows = sortable_set(session, clinic)
    got = query_requests(session, q(clinic, sort=sort, direction=direction, page_size=100))
    assert ids(got) == expected_order(session, rows, sort, direction)
    # Paging the same sort gives the same order, split in pages.
    small = [
        i
        for page in (1, 2, 3)
        for i in ids(
            query_requests(
                session, q(clinic, sort=sort, direction=direction, page_size=5, page=page)
            )
        )
    ]
    assert small == ids(got)


# -- filters and search -----------------------------------------------------------------------
def test_status_filter_takes_several_statuses_and_open_and_needs_attention(
    session: Session,
) -> None:
    clinic = make_clinic(session)
    rows = sortable_set(session, clinic)
    flagged = make_request(session, clinic, status="paid", needs_attention=True)
    by_status = {r.status: r.id for r in rows}

    def matching(*statuses: str) -> set[int]:
        page = query_requests(session, q(clinic, statuses=statuses, page_size=100))
        assert page.total == len(page.rows)
        return set(ids(page))

    assert matching("overdue") == {by_status["overdue"]}
    assert matching("refunded", "canceled") == {by_status["refunded"], by_status["canceled"]}
    open_ids = {r.id for r in rows if r.status in dashboard.OPEN}
    assert matching("open") == open_ids and len(open_ids) == 6
    assert matching("needs_attention") == {flagged.id}
    assert matching("needs_attention", "overdue") == {flagged.id, by_status["overdue"]}
    assert len(matching()) == len(rows) + 1


def test_date_range_is_practice_local_days_inclusive(session: Session) -> None:
    clinic = make_clinic(session)
    # 2026-03-01 00:30 in New York is 05:30 UTC; 2026-02-28 23:30 NY is 04:30 UTC on Mar 1.
    late_feb = make_request(session, clinic, created=dt.datetime(2026, 3, 1, 4, 30, tzinfo=UTC))
    first_mar = make_request(session, clinic, created=dt.datetime(2026, 3, 1, 5, 30, tzinfo=UTC))
    last_mar = make_request(session, clinic, created=dt.datetime(2026, 4, 1, 3, 59, tzinfo=UTC))
    april = make_request(session, clinic, created=dt.datetime(2026, 4, 1, 4, 0, tzinfo=UTC))
    march = q(clinic, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert set(ids(query_requests(session, march))) == {first_mar.id, last_mar.id}
    assert set(ids(query_requests(session, q(clinic, end=dt.date(2026, 2, 28))))) == {late_feb.id}
    assert set(ids(query_requests(session, q(clinic, start=dt.date(2026, 4, 1))))) == {april.id}
    one_day = q(clinic, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 1))
    assert ids(query_requests(session, one_day)) == [first_mar.id]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("maria", {"maria"}),
        ("MARIA", {"maria"}),
        ("okonk", {"maria"}),
        ("Maria Okonkwo", {"maria"}),
        ("okonkwo maria", {"maria"}),
        ("mar", {"maria", "mary"}),
        ("mary adams", {"mary"}),
        ("  wei  ", {"li"}),
        ("nobody", set()),
        ("%", set()),
        ("_", set()),
    ],
)
def test_search_by_patient_name(session: Session, search: str, expected: set[str]) -> None:
    clinic = make_clinic(session)
    made = {key: make_request(session, clinic, key).id for key in clinic.patients}
    page = query_requests(session, q(clinic, search=search))
    assert set(ids(page)) == {made[k] for k in expected}
    assert page.total == len(expected)


def test_filters_combine(session: Session) -> None:
    clinic = make_clinic(session)
    hit = make_request(session, clinic, "maria", status="paid")
    make_request(session, clinic, "maria", status="sent")
    make_request(session, clinic, "mary", status="paid")
    make_request(
        session, clinic, "maria", status="paid", created=dt.datetime(2025, 1, 1, tzinfo=UTC)
    )
    page = query_requests(
        session,
        q(clinic, statuses=("paid",), search="maria", start=dt.date(2026, 1, 1)),
    )
    assert ids(page) == [hit.id]


def test_row_shows_money_dates_and_the_last_texts_delivery(session: Session) -> None:
    clinic = make_clinic(session)
    paid = make_request(
        session,
        clinic,
        amount=18000,
        status="partially_refunded",
        refunded=2000,
        created=dt.datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
        paid=dt.datetime(2026, 3, 3, 1, 5, tzinfo=UTC),
    )
    unpaid = make_request(session, clinic, amount=5000, status="sent")
    for status in ("failed", "delivered"):  # the later message is the one shown
        session.add(
            SmsMessage(
                practice_id=clinic.practice_id,
                patient_id=paid.patient_id,
                request_id=unpaid.id,
                to_e164="+16175550142",
                body="x",
                status=status,
            )
        )
    session.flush()
    rows = {r.id: r for r in query_requests(session, q(clinic)).rows}
    row = rows[paid.id]
    assert (row.amount, row.fee, row.net, row.refunded) == ("$180.00", "$5.52", "$154.48", "$20.00")
    assert row.created == row.sent == "Mar 2, 2026, 9:30 AM"
    assert row.paid == "Mar 2, 2026, 8:05 PM"  # practice time, not UTC
    assert row.patient_name == "Maria Okonkwo"
    assert row.status_label == "Partially refunded" and row.refundable_cents == 16000
    assert row.sms_delivery == ""
    other = rows[unpaid.id]
    assert (other.fee, other.net, other.paid) == ("", "", "")
    assert (other.sms_delivery, other.sms_delivery_label) == ("delivered", "Delivered")
    assert not hasattr(other, "pay_url") and "pay_token" not in other.__dict__


def test_a_page_is_two_statements_whatever_the_page_holds(session: Session) -> None:
    clinic = make_clinic(session)
    for i in range(30):
        row = make_request(session, clinic, created=dt.datetime(2026, 1, 1 + i % 28, tzinfo=UTC))
        session.add(
            SmsMessage(
                practice_id=clinic.practice_id,
                patient_id=row.patient_id,
                request_id=row.id,
                to_e164="+1",
                body="x",
                status="delivered",
            )
        )
    session.flush()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        page = query_requests(session, q(clinic, sort="patient", search="ma"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(page.rows) == 25
    assert len(statements) == 2, statements


# -- totals and chart -------------------------------------------------------------------------
def test_totals_in_exact_cents(session: Session) -> None:
    clinic = make_clinic(session)
    march = dt.datetime(2026, 3, 10, 15, tzinfo=UTC)
    make_request(session, clinic, amount=5000, status="paid", paid=march)
    make_request(
        session, clinic, amount=18000, status="partially_refunded", refunded=2000, paid=march
    )
    # Not counted: paid outside the range, a colleague's, canceled.
    make_request(session, clinic, amount=7000, status="paid", paid=march - dt.timedelta(days=30))
    make_request(
        session, clinic, amount=9000, status="paid", paid=march, clinician_id=clinic.colleague_id
    )
    make_request(session, clinic, amount=4000, status="canceled")
    # Open: one sent (due later), one overdue, one sent but past its due day.
    make_request(session, clinic, amount=3000, status="sent", due=dt.date(2026, 3, 20))
    make_request(session, clinic, amount=6000, status="overdue", due=dt.date(2026, 3, 1))
    make_request(session, clinic, amount=2500, status="sent", due=dt.date(2026, 3, 14))

    got = totals(
        session,
        clinic.clinician_id,
        TZ,
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 31),
        today=dt.date(2026, 3, 15),
    )
    assert got.payments_count == 2
    assert got.gross_cents == 23000
    assert got.fees_cents == 175 + 552
    assert got.refunded_cents == 2000
    assert got.net_cents == 23000 - 727 - 2000 == 20273
    assert (got.outstanding_count, got.outstanding_cents) == (3, 11500)
    assert (got.overdue_count, got.overdue_cents) == (2, 8500)
    assert got.formatted["net"] == "$202.73"


def test_totals_range_uses_the_practice_day_of_payment(session: Session) -> None:
    clinic = make_clinic(session)
    # 03:00 UTC on Apr 1 is still Mar 31 in New York.
    make_request(session, clinic, status="paid", paid=dt.datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
    march = totals(session, clinic.clinician_id, TZ, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    april = totals(session, clinic.clinician_id, TZ, dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert (march.gross_cents, april.gross_cents) == (5000, 0)


def test_this_month_is_the_first_to_the_last_day() -> None:
    assert dashboard.month_range(dt.date(2026, 2, 14)) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
    )
    assert dashboard.month_range(dt.date(2026, 12, 31)) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
    )


def test_weekly_chart_has_12_weeks_with_zero_weeks(session: Session) -> None:
    clinic = make_clinic(session)
    today = dt.date(2026, 3, 18)  # a Wednesday; its week starts Monday Mar 16
    make_request(
        session, clinic, amount=5000, status="paid", paid=dt.datetime(2026, 3, 16, 5, tzinfo=UTC)
    )
    make_request(
        session, clinic, amount=18000, status="refunded", paid=dt.datetime(2026, 3, 17, tzinfo=UTC)
    )
    # Sunday Mar 15, 11 PM in New York (Monday 03:00 UTC): the previous week.
    make_request(
        session, clinic, amount=700, status="paid", paid=dt.datetime(2026, 3, 16, 3, tzinfo=UTC)
    )
    make_request(
        session, clinic, amount=1234, status="paid", paid=dt.datetime(2025, 12, 29, 17, tzinfo=UTC)
    )
    # Too old, unpaid, or another clinician's: not on the chart.
    make_request(
        session, clinic, amount=999, status="paid", paid=dt.datetime(2025, 12, 28, 12, tzinfo=UTC)
    )
    make_request(session, clinic, amount=888, status="sent")
    make_request(
        session,
        clinic,
        amount=777,
        status="paid",
        paid=dt.datetime(2026, 3, 17, tzinfo=UTC),
        clinician_id=clinic.colleague_id,
    )
    points = weekly_collected(session, clinic.clinician_id, TZ, today=today)
    assert len(points) == 12
    assert points[0].week_start == "2025-12-29" and points[-1].week_start == "2026-03-16"
    assert points[-1].label == "Mar 16"
    assert [p.cents for p in points] == [1234] + [0] * 9 + [700, 23000]
    assert points[-1].amount == "$230.00"


# -- CSV --------------------------------------------------------------------------------------
def test_csv_is_the_whole_filter_with_dollars_iso_dates_and_safe_cells(session: Session) -> None:
    clinic = make_clinic(session)
    made = make_request(
        session,
        clinic,
        "evil",
        amount=123456,
        status="paid",
        reason="=SUM(A1)",
        created=dt.datetime(2026, 3, 2, 3, tzinfo=UTC),  # Mar 1 in New York
        paid=dt.datetime(2026, 3, 3, 12, tzinfo=UTC),
    )
    for i in range(30):  # more than a page
        make_request(session, clinic, "jose", reason=["+1", "-2", "@x", "\tTab", "Copay"][i % 5])
    make_request(session, clinic, "maria", status="canceled")  # filtered out
    text = export_csv(session, q(clinic, statuses=("paid", "sent"), page=2, page_size=5))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(dashboard.CSV_HEADER)
    assert len(rows) == 1 + 31  # every page, not just the one on screen
    by_invoice = {r[0]: r for r in rows[1:]}
    evil = by_invoice[f"INV-{made.invoice_number:05d}"]
    assert evil[1] == "'=HYPERLINK(1) +Plus"
    assert evil[2] == "1234.56"
    assert evil[3] == "'=SUM(A1)"
    assert (evil[4], evil[5], evil[8]) == ("2026-03-01", "2026-03-20", "2026-03-03")
    assert (evil[6], evil[9], evil[10], evil[11]) == ("Paid", "36.10", "0.00", "1198.46")
    reasons = {r[3] for r in rows[1:]}
    assert {"'+1", "'-2", "'@x", "'\tTab", "Copay"} <= reasons
    assert "José Alvarez" in text


def test_csv_with_no_rows_is_just_the_header(session: Session) -> None:
    clinic = make_clinic(session)
    assert export_csv(session, q(clinic)) == ",".join(dashboard.CSV_HEADER) + "\r\n"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Copay", "Copay"),
        ("50.00", "50.00"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_csv_safe(cell: str, safe: str) -> None:
    assert csv_safe(cell) == safe


def test_dollars_are_plain_decimals() -> None:
    assert [dashboard.dollars(c) for c in (5000, 5, 123456789, 0, -250)] == [
        "50.00",
        "0.05",
        "1234567.89",
        "0.00",
        "-2.50",
    ]


# -- timeline ---------------------------------------------------------------------------------
def test_timeline_says_who_did_what_when_in_practice_time(session: Session) -> None:
    clinic = make_clinic(session)
    row = make_request(session, clinic)
    at = dt.datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    events = [
        (f"clinician:{clinic.clinician_id}", "created", ""),
        ("twilio", "sms_sent", "SMS accepted (SM1)"),
        ("twilio", "sms_delivered", "SMS delivered"),
        ("patient", "link_opened", "checkout attempt 1"),
        ("stripe", "paid", "$50.00 paid; fee $1.75"),
        (f"clinician:{clinic.colleague_id}", "link_copied", ""),
        (f"clinician:{clinic.clinician_id}", "refund_requested", "Refund #1 [confirm:abc12345]"),
        ("system", "something_new", ""),
    ]
    for n, (actor, kind, detail) in enumerate(events):
        session.add(
            PaymentEvent(
                request_id=row.id or 0,
                actor=actor,
                kind=kind,
                detail=detail,
                at=at + dt.timedelta(minutes=n),
            )
        )
    session.flush()
    got = timeline(session, clinic.clinician_id, row.id or 0, TZ)
    assert [(e.who, e.what) for e in got] == [
        ("You", "Request created"),
        ("Twilio", "SMS sent"),
        ("Twilio", "SMS delivered"),
        ("Patient", "Pay link opened"),
        ("Stripe", "Paid"),
        ("Dr. Ben Cho", "Pay link copied"),
        ("You", "Refund requested"),
        ("System", "Something new"),
    ]
    assert got[0].at == "Mar 2, 2026, 9:00 AM"
    assert got[6].detail == "Refund #1"  # the dialog's confirmation key stays hidden


def test_timeline_of_someone_elses_request_is_not_found(session: Session) -> None:
    clinic = make_clinic(session)
    theirs = make_request(session, clinic, clinician_id=clinic.colleague_id)
    with pytest.raises(NotFoundError):
        timeline(session, clinic.clinician_id, theirs.id or 0, TZ)
    with pytest.raises(NotFoundError):
        timeline(session, clinic.clinician_id, 999_999, TZ)
    assert timeline(session, clinic.colleague_id, theirs.id or 0, TZ) == []
