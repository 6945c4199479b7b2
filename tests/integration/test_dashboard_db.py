"""The Payment Settings queries on both databases (SQLite and PostgreSQL): the same rows,
the same order, the same cents, whatever the dialect does with NULLs, dates and cursors."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from jotpay_app.services import dashboard
from jotpay_app.services.dashboard import (
    RequestQuery,
    export_csv,
    iter_csv,
    query_requests,
    totals,
    weekly_collected,
)
from tests.unit.test_dashboard import (
    TZ,
    UTC,
    expected_order,
    ids,
    make_clinic,
    make_request,
    q,
    sortable_set,
)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_sort_column_orders_the_same_on_both_databases(
    engine: Engine, direction: str
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        rows = sortable_set(session, clinic)
        session.commit()
        for sort in dashboard.SORT_COLUMNS:
            page = query_requests(session, q(clinic, sort=sort, direction=direction, page_size=7))
            second = query_requests(
                session, q(clinic, sort=sort, direction=direction, page_size=7, page=2)
            )
            expected = expected_order(session, rows, sort, direction)
            assert ids(page) + ids(second) == expected, sort
            assert (page.total, page.page_count, len(second.rows)) == (12, 2, 5)


def test_filters_search_and_dates_on_both_databases(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        rows = sortable_set(session, clinic)
        flagged = make_request(
            session,
            clinic,
            "jose",
            status="paid",
            needs_attention=True,
            created=dt.datetime(2026, 3, 1, 5, 30, tzinfo=UTC),  # Mar 1, 00:30 in New York
        )
        session.commit()
        attention = query_requests(session, q(clinic, statuses=("needs_attention",)))
        assert ids(attention) == [flagged.id]
        search = query_requests(session, q(clinic, search="JOS alv", page_size=100))
        assert set(ids(search)) == {r.id for r in rows if r.patient_id == flagged.patient_id} | {
            flagged.id
        }
        march = query_requests(session, q(clinic, start=dt.date(2026, 3, 1)))
        assert ids(march) == [flagged.id]
        february = query_requests(
            session, q(clinic, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28), page_size=100)
        )
        assert february.total == len(rows)
        open_rows = query_requests(session, q(clinic, statuses=("open",), page_size=100))
        assert {r.status for r in open_rows.rows} == set(dashboard.OPEN)


def test_totals_and_chart_in_exact_cents_on_both_databases(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        paid_at = dt.datetime(2026, 3, 10, 15, tzinfo=UTC)
        make_request(session, clinic, amount=5000, status="paid", paid=paid_at)
        make_request(session, clinic, amount=18000, status="refunded", refunded=18000, paid=paid_at)
        make_request(session, clinic, amount=2000, status="overdue", due=dt.date(2026, 3, 1))
        session.commit()
        got = totals(
            session,
            clinic.clinician_id,
            TZ,
            dt.date(2026, 3, 1),
            dt.date(2026, 3, 31),
            today=dt.date(2026, 3, 18),
        )
        assert (got.gross_cents, got.fees_cents, got.refunded_cents, got.net_cents) == (
            23000,
            727,
            18000,
            23000 - 727 - 18000,
        )
        assert (got.outstanding_cents, got.overdue_count, got.overdue_cents) == (2000, 1, 2000)
        chart = weekly_collected(session, clinic.clinician_id, TZ, today=dt.date(2026, 3, 18))
        assert [p.cents for p in chart][-2:] == [23000, 0]
        assert sum(p.cents for p in chart) == 23000


def test_csv_streams_every_row_in_batches(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "CSV_BATCH_ROWS", 7)
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        start = dt.datetime(2026, 1, 5, tzinfo=UTC)
        for i in range(40):
            make_request(session, clinic, "maria", amount=5000 + i, created=start + dt.timedelta(i))
        session.commit()
        query = RequestQuery(
            clinician_id=clinic.clinician_id, tz=TZ, sort="amount", direction="asc"
        )
        chunks = list(iter_csv(session, query))
        assert len(chunks) >= 40 // 7  # streamed, not built in one piece
        rows = list(csv.reader(io.StringIO("".join(chunks))))
        assert [r[2] for r in rows[1:]] == [f"{50 + i // 100}.{i % 100:02d}" for i in range(40)]
        assert export_csv(session, query) == "".join(chunks)
