"""overdue_sweep_ms: the overdue job over 100,000 open requests, 10,000 of them newly overdue.

Builds a throwaway SQLite file (and, when `BENCH_DATABASE_URL` or `TEST_DATABASE_URL`
names a PostgreSQL server, a throwaway database there), bulk-inserts the requests and
prints, per database:

* `overdue_sweep_ms` — the sweep's overdue marking (services/reminders.mark_overdue):
  set-based UPDATEs plus the history events, one transaction;
* `overdue_sweep_statements` — SQL statements it ran (the same for 10 rows or 10,000);
* `overdue_raw_update_ms` — a bare UPDATE of the same rows, no events: the floor;
* `reminder_phase_ms` / `reminders_sent` — the reminders step on its own, with a fake
  Twilio: 1,000 of the overdue requests have their first reminder due.

    python -m bench.overdue_bench
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from jotpay_app.models import Clinician, Patient, PaymentRequest, Practice
from jotpay_app.services.db import make_engine
from jotpay_app.services.migrations import upgrade_to_head
from jotpay_app.services.reminders import mark_overdue, send_due_reminders
from jotpay_app.services.sms import SentSms

OPEN_REQUESTS = 100_000
NEWLY_OVERDUE = 10_000
WITH_REMINDER_DUE = 1_000  # of the newly overdue: due two days ago, reminder 1 due now
PATIENTS = 20_000
# The sweep runs at 9:00 in New York: every practice's date is May 5, so requests due
# May 4 or earlier are overdue; reminders for May 3 went due at 10:00 on May 4.
NOW = dt.datetime(2026, 5, 5, 9, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)
TODAY = dt.date(2026, 5, 5)
TIMEZONES = ("America/New_York", "America/Chicago", "America/New_York")
BATCH = 5_000


class NullSms:
    """Twilio that answers at once: the reminder figures are the app's own cost."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, *, to: str, body: str) -> SentSms:
        self.sent += 1
        return SentSms(sid=f"SM{secrets.token_hex(16)}", status="queued")

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> SentSms | None:
        return None


def _original_status_sql() -> str:
    # Every tenth request had a declined card; the rest were texted. Used to put the rows
    # back between the raw UPDATE and the sweep.
    return "CASE WHEN id % 10 = 0 THEN 'payment_failed' ELSE 'sent' END"


def populate(engine: Engine) -> None:
    practices_table = Practice.__table__  # type: ignore[attr-defined]
    clinicians_table = Clinician.__table__  # type: ignore[attr-defined]
    patients_table = Patient.__table__  # type: ignore[attr-defined]
    requests_table = PaymentRequest.__table__  # type: ignore[attr-defined]
    created = NOW - dt.timedelta(days=30)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(practices_table),
            [
                {
                    "id": i + 1,
                    "name": f"Practice {i + 1}",
                    "timezone": tz,
                    "reminder_days": "1,3,7",
                    "reminder_hour": 10,
                    "max_reminders": 3,
                    "next_invoice_number": OPEN_REQUESTS + 1,
                    "created_at": created,
                }
                for i, tz in enumerate(TIMEZONES)
            ],
        )
        conn.execute(
            sa.insert(clinicians_table),
            [
                {
                    "id": i + 1,
                    "practice_id": i + 1,
                    "email": f"clinician{i + 1}@example.com",
                    "full_name": f"Clinician {i + 1}",
                    "password_hash": "!",
                    "created_at": created,
                }
                for i in range(len(TIMEZONES))
            ],
        )
        patient_rows = [
            {
                "id": i + 1,
                "practice_id": i % len(TIMEZONES) + 1,
                "first_name": "Pat",
                "last_name": f"Ient{i}",
                "date_of_birth": None,
                "email": "",
                "mobile_e164": f"+1617{i:07d}",
                "sms_consent_at": created,
                "sms_consent_method": "Verbally, in session",
                "sms_consent_by_clinician_id": None,
                "sms_opted_out": False,
                "sms_opted_out_at": None,
                "created_at": created,
            }
            for i in range(PATIENTS)
        ]
        for start in range(0, len(patient_rows), BATCH):
            conn.execute(sa.insert(patients_table), patient_rows[start : start + BATCH])

        def request_row(request_id: int) -> dict[str, object]:
            index = request_id - 1
            if index < WITH_REMINDER_DUE:
                due = TODAY - dt.timedelta(days=2)
            elif index < NEWLY_OVERDUE:
                due = TODAY - dt.timedelta(days=1)
            else:
                due = TODAY + dt.timedelta(days=index % 60)
            patient_index = index % PATIENTS
            practice_id = patient_index % len(TIMEZONES) + 1
            if index < WITH_REMINDER_DUE:
                # New York (9:00 there, inside texting hours), one request per patient
                # so the daily cap holds none of them back.
                patient_index = index * len(TIMEZONES)
                practice_id = 1
            return {
                "id": request_id,
                "practice_id": practice_id,
                "clinician_id": practice_id,
                "patient_id": patient_index + 1,
                "appointment_id": None,
                "note_id": None,
                "invoice_number": request_id,
                "amount_cents": 5000,
                "fee_cents": 175,
                "net_cents": 4825,
                "amount_refunded_cents": 0,
                "reason": "Session fee",
                "due_date": due,
                "status": "payment_failed" if request_id % 10 == 0 else "sent",
                "pay_token": secrets.token_urlsafe(16),
                "submit_key": f"bench-{request_id}",
                "checkout_session_id": "",
                "checkout_url": "",
                "checkout_attempt": 0,
                "checkout_expires_at": None,
                "payment_intent_id": "",
                "failure_reason": "",
                "needs_attention": False,
                "sms_attempts": 1,
                "next_sms_attempt_at": None,
                "reminders_sent": 0,
                "last_reminder_at": None,
                "created_at": created,
                "updated_at": created,
                "sent_at": created,
                "paid_at": None,
                "canceled_at": None,
                "overdue_at": None,
            }

        for start in range(1, OPEN_REQUESTS + 1, BATCH):
            conn.execute(
                sa.insert(requests_table),
                [request_row(i) for i in range(start, min(start + BATCH, OPEN_REQUESTS + 1))],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            # PostgreSQL restarts nothing when ids are given: move the sequences past them.
            for table in ("practice", "clinician", "patient", "paymentrequest"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def measure(prefix: str, engine: Engine) -> None:
    populate(engine)
    with engine.connect() as conn:  # warm the cache for both runs alike
        conn.exec_driver_sql("SELECT count(*), max(due_date) FROM paymentrequest").all()

    start = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.execute(
            sa.text(
                "UPDATE paymentrequest SET status = 'overdue', overdue_at = :now, "
                "updated_at = :now WHERE status IN ('sent', 'payment_failed') "
                "AND due_date < :today"
            ),
            {"now": NOW, "today": TODAY},
        ).rowcount
    raw_ms = ms_since(start)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"UPDATE paymentrequest SET status = {_original_status_sql()}, "
                "overdue_at = NULL WHERE status = 'overdue'"
            )
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE paymentrequest")

    start = time.perf_counter()
    marked, statements = mark_overdue(engine, NOW)
    sweep_ms = ms_since(start)
    assert raw == marked == NEWLY_OVERDUE, (raw, marked)

    sms = NullSms()
    start = time.perf_counter()
    reminders = send_due_reminders(engine, sms, public_base_url="https://pay.example", now=NOW)
    reminder_ms = ms_since(start)
    assert reminders.reminders_sent == sms.sent

    print(f"{prefix}.overdue_sweep_ms={sweep_ms}")
    print(f"{prefix}.overdue_sweep_statements={statements}")
    print(f"{prefix}.overdue_raw_update_ms={raw_ms}")
    print(f"{prefix}.overdue_marked={marked}")
    print(f"{prefix}.reminder_phase_ms={reminder_ms}")
    print(f"{prefix}.reminders_sent={reminders.reminders_sent}")


@contextmanager
def sqlite_database() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="jotpay-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'overdue.db'}"
        upgrade_to_head(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgresql_database(server_url: str) -> Iterator[Engine]:
    """A database created for this run on `server_url`'s server, dropped afterwards."""
    name = f"jotpay_bench_{secrets.token_hex(4)}"
    base = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = None
    try:
        upgrade_to_head(url)
        engine = make_engine(url)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    with sqlite_database() as engine:
        measure("sqlite", engine)
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if server_url:
        with postgresql_database(server_url) as engine:
            measure("postgresql", engine)
    else:
        print("# postgresql skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL")


if __name__ == "__main__":
    main()
