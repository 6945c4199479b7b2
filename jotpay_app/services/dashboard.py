"""Payment Settings data: the request table, totals, the weekly chart, CSV, the timeline.

Everything is scoped to one clinician (a request belongs to the clinician who sent it)
and computed in the database: a page is one query plus one count, whatever the filter
or sort, so it stays fast with 100,000 requests. Money is integer cents; dates the
clinician picks are practice-local and turned into UTC bounds here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from jotpay_app.models import (
    OPEN_STATUSES,
    Clinician,
    Patient,
    PaymentEvent,
    PaymentRequest,
    RequestStatus,
    SmsMessage,
)
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.money import format_cents
from jotpay_app.services.payments import (
    STATUS_LABELS,
    RequestPage,
    RequestRow,
    sms_delivery_label,
    status_label,
)
from jotpay_app.services.timefmt import (
    format_date,
    format_datetime,
    local_to_utc,
    local_today,
    to_local,
)

S = RequestStatus
PR = PaymentRequest
PAID_LIKE: tuple[str, ...] = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)
OPEN: tuple[str, ...] = tuple(sorted(OPEN_STATUSES))
MAX_PAGE_SIZE = 100
SORT_COLUMNS = ("patient", "amount", "reason", "sent", "due", "status", "paid", "fee", "net")
# Status filter values beyond the statuses themselves.
NEEDS_ATTENTION = "needs_attention"
OPEN_FILTER = "open"
STATUS_FILTERS: tuple[str, ...] = (*(s.value for s in S), OPEN_FILTER, NEEDS_ATTENTION)
CSV_BATCH_ROWS = 500
STATUS_LABEL_RANK: dict[str, int] = {
    status: rank
    for rank, status in enumerate(sorted(STATUS_LABELS, key=lambda s: STATUS_LABELS[s].lower()))
}


class QueryError(ValueError):
    """A sort column, direction or status filter the table does not offer."""


@dataclass(frozen=True)
class RequestQuery:
    """What the table shows: one clinician's requests, filtered, sorted, one page.

    `start`/`end` bound the day the request was made, as practice-local dates, both
    inclusive. `search` matches patient names case-insensitively: every word must be
    part of the first or the last name ("mar oko" finds Maria Okonkwo-Hale).
    `statuses` empty means every status; "open" and "needs_attention" are accepted too.
    """

    clinician_id: int
    tz: str = "UTC"
    page: int = 1
    page_size: int = 25
    sort: str = "sent"
    direction: str = "desc"
    statuses: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    search: str = ""

    def checked(self) -> RequestQuery:
        """A copy with page and size clamped; QueryError for values the UI never offers."""
        if self.sort not in SORT_COLUMNS:
            raise QueryError(f"Unknown sort column: {self.sort}")
        if self.direction not in ("asc", "desc"):
            raise QueryError(f"Unknown sort direction: {self.direction}")
        unknown = [s for s in self.statuses if s not in STATUS_FILTERS]
        if unknown:
            raise QueryError(f"Unknown status filter: {', '.join(unknown)}")
        return replace(
            self,
            page=max(int(self.page), 1),
            page_size=min(max(int(self.page_size), 1), MAX_PAGE_SIZE),
            statuses=tuple(self.statuses),
            search=" ".join(self.search.split())[:80],
        )


# -- building the query -----------------------------------------------------------------------
def local_day_start_utc(day: dt.date, tz: str) -> dt.datetime:
    """The UTC moment a practice-local day begins (DST-correct)."""
    return local_to_utc(dt.datetime.combine(day, dt.time()), tz)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_matches(search: str) -> sa.ColumnElement[bool] | None:
    words = search.lower().split()
    if not words:
        return None
    conditions = []
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        conditions.append(
            sa.or_(
                sa.func.lower(Patient.first_name).like(pattern, escape="\\"),
                sa.func.lower(Patient.last_name).like(pattern, escape="\\"),
            )
        )
    return sa.and_(*conditions)


def _mine(clinician_id: int, *, scan: bool) -> sa.ColumnElement[bool]:
    """`clinician_id = ?`, optionally written so that SQLite scans the table instead.

    SQLite walks ix_paymentrequest_clinician_created in created_at order and fetches each
    row from the table out of rowid order: ~1.6 µs a row, 160-250 ms for a clinician with
    100,000 requests. Reading the whole table in order takes ~20-30 ms. So when the index
    order is of no use (another sort, a filter, a sum), `clinician_id + 0` keeps SQLite
    off that index (the status and patient indexes stay usable: their rows are in rowid
    order). PostgreSQL's planner weighs this itself and gets the plain condition.
    """
    if scan:
        return PR.clinician_id + sa.literal_column("0") == clinician_id
    return PR.clinician_id == clinician_id


def scan_choices(dialect_name: str, q: RequestQuery) -> tuple[bool, bool]:
    """(count, page): whether each keeps SQLite off the clinician index (see `_mine`).

    Unfiltered, that index answers the count alone (it covers it) and walks the default
    order (newest first) stopping after one page: those two keep it.
    """
    if dialect_name != "sqlite":
        return False, False
    filtered = bool(q.statuses or q.search)
    return filtered, filtered or q.sort != "sent"


def _on_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _conditions(q: RequestQuery, *, scan: bool = False) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [_mine(q.clinician_id, scan=scan)]
    if q.statuses:
        wanted = {s for s in q.statuses if s not in (OPEN_FILTER, NEEDS_ATTENTION)}
        if OPEN_FILTER in q.statuses:
            wanted |= set(OPEN)
        either: list[sa.ColumnElement[bool]] = []
        if wanted:
            either.append(PR.status.in_(sorted(wanted)))  # type: ignore[attr-defined]
        if NEEDS_ATTENTION in q.statuses:
            either.append(PR.needs_attention == sa.true())
        conditions.append(sa.or_(*either))
    if q.start is not None:
        conditions.append(PR.created_at >= local_day_start_utc(q.start, q.tz))
    if q.end is not None:
        end = local_day_start_utc(q.end + dt.timedelta(days=1), q.tz)
        conditions.append(PR.created_at < end)
    name = _name_matches(q.search)
    if name is not None:
        # The practice's patients are few (hundreds): match them first, then their requests.
        conditions.append(
            PR.patient_id.in_(select(Patient.id).where(name))  # type: ignore[attr-defined]
        )
    return conditions


def _paid_only(expr: Any) -> sa.ColumnElement[Any]:
    """Fee and net count only once paid; unpaid rows sort after every paid one."""
    return sa.case((PR.status.in_(PAID_LIKE), expr), else_=None)  # type: ignore[attr-defined]


def _sort_keys(q: RequestQuery) -> list[sa.ColumnElement[Any]]:
    # Alphabetical by the label the clinician sees, as a rank: the same on every
    # database whatever its collation.
    by_label = sa.case(STATUS_LABEL_RANK, value=PR.status, else_=len(STATUS_LABEL_RANK))
    columns: dict[str, list[Any]] = {
        "patient": [sa.func.lower(Patient.last_name), sa.func.lower(Patient.first_name)],
        "amount": [PR.amount_cents],
        "reason": [sa.func.lower(PR.reason)],
        "sent": [PR.created_at],
        "due": [PR.due_date],
        "status": [by_label],
        "paid": [PR.paid_at],
        "fee": [_paid_only(PR.fee_cents)],
        "net": [_paid_only(PR.net_cents - PR.amount_refunded_cents)],
    }
    descending = q.direction == "desc"
    keys = []
    for column in columns[q.sort]:
        key = column.desc() if descending else column.asc()
        # Empty cells (not paid yet) last in both directions, the same on both databases.
        keys.append(key.nulls_last() if q.sort in ("paid", "fee", "net") else key)
    # A stable order: equal values keep one order across pages.
    keys.append(PR.id.desc() if descending else PR.id.asc())  # type: ignore[union-attr]
    return keys


def _last_sms_status() -> sa.ScalarSelect[Any]:
    return (
        select(SmsMessage.status)
        .where(SmsMessage.request_id == PR.id)
        .order_by(SmsMessage.id.desc())  # type: ignore[union-attr]
        .limit(1)
        .correlate(PR)
        .scalar_subquery()
    )


def _row_columns() -> tuple[Any, ...]:
    return (
        PR.id,
        PR.invoice_number,
        Patient.first_name,
        Patient.last_name,
        PR.amount_cents,
        PR.reason,
        PR.created_at,
        PR.due_date,
        PR.status,
        PR.paid_at,
        PR.fee_cents,
        PR.net_cents,
        PR.amount_refunded_cents,
        PR.needs_attention,
        _last_sms_status().label("sms_status"),
    )


def count_statement(q: RequestQuery, *, scan: bool = False) -> sa.Select[Any]:
    return select(sa.func.count()).select_from(PR).where(*_conditions(q, scan=scan))


def page_statement(q: RequestQuery, *, scan: bool = False) -> sa.Select[Any]:
    """The rows of one page in one statement.

    The page's ids are chosen first (filter, sort, offset, limit) touching only the
    columns that need it; names and the last text's status are then looked up for those
    25 rows only, not for every row the sort has to consider.
    """
    keys = _sort_keys(q)
    chosen = select(PR.id).where(*_conditions(q, scan=scan))
    if q.sort == "patient":
        # Scanning: read requests in table order and look each patient up by id, rather
        # than going patient by patient through the patient_id index (out of row order).
        patient_id = PR.patient_id + sa.literal_column("0") if scan else PR.patient_id
        chosen = chosen.join(Patient, Patient.id == patient_id)
    page_ids = (
        chosen.order_by(*keys).offset((q.page - 1) * q.page_size).limit(q.page_size).subquery()
    )
    return (
        select(*_row_columns())
        .join(page_ids, page_ids.c.id == PR.id)
        .join(Patient, Patient.id == PR.patient_id)
        .order_by(*keys)
    )


def _all_rows_statement(q: RequestQuery, *, scan: bool = False) -> sa.Select[Any]:
    return (
        select(*_row_columns())
        .join(Patient, Patient.id == PR.patient_id)
        .where(*_conditions(q, scan=scan))
        .order_by(*_sort_keys(q))
    )


def _to_row(r: Any, tz: str) -> RequestRow:
    paid_like = r.status in PAID_LIKE
    created = format_datetime(r.created_at, tz)
    sms_status = r.sms_status or ""
    return RequestRow(
        id=int(r.id),
        invoice_number=int(r.invoice_number),
        patient_name=f"{r.first_name} {r.last_name}",
        amount=format_cents(r.amount_cents),
        reason=r.reason,
        created=created,
        due=format_date(r.due_date),
        status=r.status,
        status_label=status_label(r.status),
        paid=format_datetime(r.paid_at, tz),
        fee=format_cents(r.fee_cents) if paid_like else "",
        net=format_cents(r.net_cents - r.amount_refunded_cents) if paid_like else "",
        sent=created,
        sms_delivery=sms_status,
        sms_delivery_label=sms_delivery_label(sms_status),
        refunded=format_cents(r.amount_refunded_cents) if r.amount_refunded_cents else "",
        needs_attention=bool(r.needs_attention),
        amount_cents=int(r.amount_cents),
        refundable_cents=(r.amount_cents - r.amount_refunded_cents) if paid_like else 0,
    )


def query_requests(session: Session, q: RequestQuery) -> RequestPage:
    """One page of the clinician's requests: one count and one page query, nothing per row.

    A page past the end shows the last page (e.g. after a filter shrank the list).
    """
    q = q.checked()
    count_scan, page_scan = scan_choices(session.get_bind().dialect.name, q)
    total = int(session.execute(count_statement(q, scan=count_scan)).scalar_one())
    page_count = max(1, -(-total // q.page_size))
    if q.page > page_count:
        q = replace(q, page=page_count)
    page = page_statement(q, scan=page_scan)
    rows = session.execute(page).all() if total else []
    return RequestPage(
        rows=[_to_row(r, q.tz) for r in rows],
        total=total,
        page=q.page,
        page_size=q.page_size,
        page_count=page_count,
    )


# -- totals and chart -------------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """Money for one clinician, in exact cents.

    Payments *received* in the range (paid, partially refunded or refunded, with the
    payment date in the range, practice-local days inclusive):
      - `gross_cents`: what patients paid;
      - `fees_cents`: the 2.9% + 30¢ processing fees on those payments;
      - `refunded_cents`: what has been refunded of those payments (whenever refunded);
      - `net_cents` = gross - fees - refunded: the payout the clinician keeps (a refund
        reverses the transfer; the fee is not returned).
    As of now, whatever the range (what is still owed):
      - `outstanding_cents`/`outstanding_count`: every open request;
      - `overdue_cents`/`overdue_count`: open requests past their due date (marked
        overdue, or past the due day and not yet marked by the scheduler).
    """

    start: dt.date
    end: dt.date
    payments_count: int
    gross_cents: int
    fees_cents: int
    refunded_cents: int
    net_cents: int
    outstanding_count: int
    outstanding_cents: int
    overdue_count: int
    overdue_cents: int

    @property
    def formatted(self) -> dict[str, str]:
        """The cards' texts: {'gross': '$230.00', ...}."""
        return {
            "gross": format_cents(self.gross_cents),
            "fees": format_cents(self.fees_cents),
            "refunded": format_cents(self.refunded_cents),
            "net": format_cents(self.net_cents),
            "outstanding": format_cents(self.outstanding_cents),
            "overdue": format_cents(self.overdue_cents),
        }


def _sum(expr: Any) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(expr), 0)


def totals(
    session: Session,
    clinician_id: int,
    tz: str,
    start: dt.date,
    end: dt.date,
    *,
    today: dt.date | None = None,
) -> Totals:
    """The totals cards for `start`..`end` (practice-local, inclusive). See `Totals`."""
    today = today or local_today(tz)
    begins, ends = local_day_start_utc(start, tz), local_day_start_utc(end + dt.timedelta(1), tz)
    received = sa.and_(
        PR.status.in_(PAID_LIKE),  # type: ignore[attr-defined]
        PR.paid_at >= begins,  # type: ignore[operator]
        PR.paid_at < ends,  # type: ignore[operator]
    )
    is_open = PR.status.in_(OPEN)  # type: ignore[attr-defined]
    overdue = sa.and_(is_open, sa.or_(PR.status == S.OVERDUE, PR.due_date < today))

    def when(condition: sa.ColumnElement[bool], value: Any) -> sa.ColumnElement[Any]:
        return sa.case((condition, value), else_=0)

    row = session.execute(
        select(
            _sum(when(received, 1)),
            _sum(when(received, PR.amount_cents)),
            _sum(when(received, PR.fee_cents)),
            _sum(when(received, PR.amount_refunded_cents)),
            _sum(when(is_open, 1)),
            _sum(when(is_open, PR.amount_cents)),
            _sum(when(overdue, 1)),
            _sum(when(overdue, PR.amount_cents)),
        ).where(
            _mine(clinician_id, scan=_on_sqlite(session)),
            # Only rows that can count: received in range, or still open.
            sa.or_(received, is_open),
        )
    ).one()
    count, gross, fees, refunded, n_open, open_cents, n_overdue, overdue_cents = (
        int(v) for v in row
    )
    return Totals(
        start=start,
        end=end,
        payments_count=count,
        gross_cents=gross,
        fees_cents=fees,
        refunded_cents=refunded,
        net_cents=gross - fees - refunded,
        outstanding_count=n_open,
        outstanding_cents=open_cents,
        overdue_count=n_overdue,
        overdue_cents=overdue_cents,
    )


def month_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of `today`'s month."""
    first = today.replace(day=1)
    next_first = (first + dt.timedelta(days=32)).replace(day=1)
    return first, next_first - dt.timedelta(days=1)


def this_month_totals(
    session: Session, clinician_id: int, tz: str, *, today: dt.date | None = None
) -> Totals:
    today = today or local_today(tz)
    start, end = month_range(today)
    return totals(session, clinician_id, tz, start, end, today=today)


@dataclass(frozen=True)
class WeekPoint:
    week_start: str  # ISO date of the week's Monday (practice-local)
    label: str  # "Mar 2"
    cents: int
    amount: str  # "$230.00"


def weekly_collected(
    session: Session,
    clinician_id: int,
    tz: str,
    weeks: int = 12,
    today: dt.date | None = None,
) -> list[WeekPoint]:
    """Collected (gross of payments received) per practice-local week, oldest first.

    The last point is the week of `today`; weeks without payments are zero. One query:
    one SUM per week over UTC bounds computed here, so DST and the practice's time zone
    are exact on both databases.
    """
    today = today or local_today(tz)
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    bounds = [local_day_start_utc(m, tz) for m in [*mondays, this_monday + dt.timedelta(7)]]
    sums = [
        _sum(
            sa.case(
                (sa.and_(PR.paid_at >= lo, PR.paid_at < hi), PR.amount_cents),  # type: ignore[operator]
                else_=0,
            )
        )
        for lo, hi in itertools.pairwise(bounds)
    ]
    row = session.execute(
        select(*sums).where(
            _mine(clinician_id, scan=_on_sqlite(session)),
            PR.status.in_(PAID_LIKE),  # type: ignore[attr-defined]
            PR.paid_at >= bounds[0],  # type: ignore[operator]
            PR.paid_at < bounds[-1],  # type: ignore[operator]
        )
    ).one()
    return [
        WeekPoint(
            week_start=monday.isoformat(),
            label=f"{monday:%b} {monday.day}",
            cents=int(cents),
            amount=format_cents(int(cents)),
        )
        for monday, cents in zip(mondays, row, strict=True)
    ]


# -- CSV --------------------------------------------------------------------------------------
CSV_HEADER = (
    "Invoice",
    "Patient",
    "Amount",
    "Reason",
    "Sent",
    "Due",
    "Status",
    "SMS delivery",
    "Paid",
    "Fee",
    "Refunded",
    "Net",
)
# A spreadsheet treats a cell starting with these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with a single quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def dollars(cents: int) -> str:
    """12345 -> '123.45' (no currency sign, no thousands separator: a number in a sheet)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"


def _csv_cells(r: Any, tz: str) -> list[str]:
    paid_like = r.status in PAID_LIKE
    return [
        f"INV-{r.invoice_number:05d}",
        f"{r.first_name} {r.last_name}",
        dollars(r.amount_cents),
        r.reason,
        to_local(r.created_at, tz).date().isoformat(),
        r.due_date.isoformat(),
        status_label(r.status),
        sms_delivery_label(r.sms_status),
        to_local(r.paid_at, tz).date().isoformat() if r.paid_at else "",
        dollars(r.fee_cents) if paid_like else "",
        dollars(r.amount_refunded_cents) if paid_like else "",
        dollars(r.net_cents - r.amount_refunded_cents) if paid_like else "",
    ]


def iter_csv(session: Session, q: RequestQuery) -> Iterator[str]:
    """The CSV of every row the filter matches (all pages, same order), in chunks.

    Rows are streamed from the database in batches (`yield_per`: a server-side cursor on
    PostgreSQL), so an export of 100,000 rows never holds them all at once.
    """
    q = q.checked()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    statement = _all_rows_statement(
        q, scan=scan_choices(session.get_bind().dialect.name, q)[1]
    ).execution_options(yield_per=CSV_BATCH_ROWS)
    for partition in session.execute(statement).partitions():
        for r in partition:
            writer.writerow([csv_safe(cell) for cell in _csv_cells(r, q.tz)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def export_csv(session: Session, q: RequestQuery) -> str:
    """The whole CSV as text (encode as UTF-8 to download). See `iter_csv`."""
    return "".join(iter_csv(session, q))


def export_filename(q: RequestQuery, today: dt.date | None = None) -> str:
    return f"payment-requests-{(today or local_today(q.tz)).isoformat()}.csv"


# -- timeline ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineEntry:
    at: str  # "Dec 4, 2026, 9:30 AM" (practice time)
    at_iso: str
    who: str  # "You", "Patient", "Stripe", "Twilio", "System" or a colleague's name
    what: str
    detail: str
    kind: str


EVENT_WORDS: dict[str, str] = {
    "created": "Request created",
    "setup_complete": "Stripe setup finished",
    "sms_sent": "SMS sent",
    "sms_delivered": "SMS delivered",
    "sms_failed": "SMS failed",
    "sms_undelivered": "SMS not delivered",
    "sms_retry": "SMS retried",
    "sms_resent": "SMS sent again",
    "sms_resend_failed": "SMS could not be sent again",
    "link_opened": "Pay link opened",
    "link_copied": "Pay link copied",
    "paid": "Paid",
    "payment_failed": "Card declined",
    "overdue": "Marked overdue",
    "reminder_sent": "Reminder sent",
    "reminder_skipped": "Reminder skipped",
    "reminder_failed": "Reminder failed",
    "refund_requested": "Refund requested",
    "refund_succeeded": "Refunded",
    "refund_failed": "Refund failed",
    "refunded": "Refunded",
    "canceled": "Canceled",
    "checkout_expired": "Payment page closed",
    "checkout_expire_failed": "Payment page not closed yet",
}
_ACTOR_WORDS = {"patient": "Patient", "stripe": "Stripe", "twilio": "Twilio", "system": "System"}
# Internal markers kept in event details (e.g. a refund dialog's confirmation key).
_HIDDEN_DETAIL = re.compile(r"\s*\[[a-z_]+:[^\]]*\]")


def event_words(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind.replace("_", " ").capitalize())


def visible_detail(detail: str) -> str:
    return _HIDDEN_DETAIL.sub("", detail).strip()


def _clinician_id_of(actor: str) -> int | None:
    prefix, _, raw = actor.partition(":")
    return int(raw) if prefix == "clinician" and raw.isdigit() else None


def timeline(session: Session, clinician_id: int, request_id: int, tz: str) -> list[TimelineEntry]:
    """The request's history, oldest first. NotFoundError unless it is the clinician's own."""
    owner = session.execute(select(PR.clinician_id).where(PR.id == request_id)).scalar()
    if owner is None or owner != clinician_id:
        raise NotFoundError("Payment request not found")
    events: Sequence[PaymentEvent] = session.exec(
        select(PaymentEvent)
        .where(PaymentEvent.request_id == request_id)
        .order_by(PaymentEvent.at, PaymentEvent.id)  # type: ignore[arg-type]
    ).all()
    colleague_ids = {
        cid for e in events if (cid := _clinician_id_of(e.actor)) not in (None, clinician_id)
    }
    names: dict[int, str] = {}
    if colleague_ids:
        names = {
            int(cid): str(name)
            for cid, name in session.execute(
                select(Clinician.id, Clinician.full_name).where(
                    Clinician.id.in_(colleague_ids)  # type: ignore[union-attr]
                )
            ).all()
        }

    def who(actor: str) -> str:
        cid = _clinician_id_of(actor)
        if cid is not None:
            return "You" if cid == clinician_id else names.get(cid, "A colleague")
        return _ACTOR_WORDS.get(actor, actor.capitalize())

    return [
        TimelineEntry(
            at=format_datetime(e.at, tz),
            at_iso=to_local(e.at, tz).isoformat(timespec="seconds"),
            who=who(e.actor),
            what=event_words(e.kind),
            detail=visible_detail(e.detail),
            kind=e.kind,
        )
        for e in events
    ]


@dataclass(frozen=True)
class DashboardOptions:
    """What the filter controls offer, for the UI to render."""

    sort_columns: tuple[str, ...] = SORT_COLUMNS
    status_filters: tuple[tuple[str, str], ...] = field(
        default_factory=lambda: (
            (OPEN_FILTER, "Open"),
            *((s.value, status_label(s.value)) for s in S),
            (NEEDS_ATTENTION, "Needs attention"),
        )
    )
