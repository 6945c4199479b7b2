"""Payment Settings with 100,000 requests for one clinician: how long a page takes.

Seeds a throwaway SQLite file and, when PostgreSQL answers (`BENCH_DATABASE_URL` or
`TEST_DATABASE_URL`), a throwaway PostgreSQL database; then times `query_requests`
(the count and the page query, rows formatted) in-process, i.e. server-side time
without the network or the browser. Each figure is the median of 9 runs.

    python -m bench.dashboard_bench            # key=value lines on stdout
    python -m bench.dashboard_bench --explain  # plus the query plans on stderr

Figures (prefixed `sqlite.` / `postgresql.`):
  dashboard_first_page_ms   newest first, page 1 (what the page opens with)
  dashboard_filter_ms       status filter "Overdue", page 1
  dashboard_sort_ms         sorted by patient name, page 1 (the costliest sort: a join)
  dashboard_page_ms         the default view, page 2
  dashboard_last_page_ms    the default view, the last page (the deepest OFFSET)
  dashboard_search_ms       patient-name search, page 1
  dashboard_sort_amount_ms  sorted by amount, page 1
  dashboard_raw_sql_ms      hand-written SQL for the first page (a floor to compare with)
  dashboard_totals_ms       this month's totals cards
  dashboard_chart_ms        the 12-week chart
and `dashboard_page_state_bytes`: the JSON size of one page's rows (what a page sends).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session

from bench.common import (
    Seeded,
    emit,
    engine_for,
    median_ms,
    postgres_admin_url,
    postgres_database,
    postgres_reachable,
    seed_requests,
    sqlite_database,
)
from jotpay_app.services import dashboard
from jotpay_app.services.dashboard import RequestQuery, query_requests

RUNS = 9
REQUESTS = 100_000

# The same first page as `query_requests` makes, written by hand.
RAW_FIRST_PAGE = """
SELECT pr.id, pr.invoice_number, p.first_name, p.last_name, pr.amount_cents, pr.reason,
       pr.created_at, pr.due_date, pr.status, pr.paid_at, pr.fee_cents, pr.net_cents,
       pr.amount_refunded_cents, pr.needs_attention,
       (SELECT m.status FROM smsmessage m WHERE m.request_id = pr.id
        ORDER BY m.id DESC LIMIT 1) AS sms_status
FROM paymentrequest pr JOIN patient p ON p.id = pr.patient_id
WHERE pr.clinician_id = :clinician
ORDER BY pr.created_at DESC, pr.id DESC
LIMIT 25
"""
RAW_COUNT = "SELECT count(*) FROM paymentrequest WHERE clinician_id = :clinician"


def scenarios(seeded: Seeded, last_page: int) -> dict[str, RequestQuery]:
    base = RequestQuery(clinician_id=seeded.clinician_id, tz=seeded.tz)
    return {
        "dashboard_first_page_ms": base,
        "dashboard_filter_ms": dataclasses.replace(base, statuses=("overdue",)),
        "dashboard_sort_ms": dataclasses.replace(base, sort="patient", direction="asc"),
        "dashboard_page_ms": dataclasses.replace(base, page=2),
        "dashboard_last_page_ms": dataclasses.replace(base, page=last_page),
        "dashboard_search_ms": dataclasses.replace(base, search="nguyen"),
        "dashboard_sort_amount_ms": dataclasses.replace(base, sort="amount", direction="desc"),
    }


def explain(session: Session, statement: sa.Select, label: str) -> None:
    # On the session's own connection: on SQLite a second one would wait for its lock.
    conn = session.connection()
    dialect = conn.dialect.name
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    plan = conn.exec_driver_sql(prefix + str(compiled)).all()
    print(f"# {dialect} {label}", file=sys.stderr)
    for row in plan:
        print("#   " + " | ".join(str(v) for v in row), file=sys.stderr)


def run_dialect(prefix: str, url: str, *, show_plans: bool) -> int:
    engine = engine_for(url)
    try:
        seeded = seed_requests(engine, requests=REQUESTS)
        page_state_bytes = 0
        with Session(engine) as session:
            first = query_requests(session, RequestQuery(seeded.clinician_id, seeded.tz))
            page_state_bytes = len(json.dumps([dataclasses.asdict(r) for r in first.rows]))
            for key, q in scenarios(seeded, first.page_count).items():

                def one(q: RequestQuery = q) -> object:
                    return query_requests(session, q)

                emit(f"{prefix}.{key}", median_ms(one, runs=RUNS))
                if show_plans:
                    checked = q.checked()
                    count_scan, page_scan = dashboard.scan_choices(engine.dialect.name, checked)
                    count = dashboard.count_statement(checked, scan=count_scan)
                    explain(session, count, f"{key} count")
                    page = dashboard.page_statement(checked, scan=page_scan)
                    explain(session, page, f"{key} page")

            def raw() -> object:
                params = {"clinician": seeded.clinician_id}
                session.execute(sa.text(RAW_COUNT), params).scalar_one()
                return session.execute(sa.text(RAW_FIRST_PAGE), params).all()

            emit(f"{prefix}.dashboard_raw_sql_ms", median_ms(raw, runs=RUNS))
            today = dt.date.today()
            timed: dict[str, Callable[[], object]] = {
                "dashboard_totals_ms": lambda: dashboard.this_month_totals(
                    session, seeded.clinician_id, seeded.tz, today=today
                ),
                "dashboard_chart_ms": lambda: dashboard.weekly_collected(
                    session, seeded.clinician_id, seeded.tz, today=today
                ),
            }
            for key, run in timed.items():
                emit(f"{prefix}.{key}", median_ms(run, runs=RUNS))
        return page_state_bytes
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--explain", action="store_true", help="print query plans on stderr")
    args = parser.parse_args(argv)
    with sqlite_database() as url:
        page_state_bytes = run_dialect("sqlite", url, show_plans=args.explain)
    admin = postgres_admin_url()
    if postgres_reachable(admin):
        with postgres_database(admin) as url:
            run_dialect("postgresql", url, show_plans=args.explain)
    else:
        print("# PostgreSQL not reachable: postgresql.* figures skipped", file=sys.stderr)
    emit("dashboard_page_state_bytes", page_state_bytes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
