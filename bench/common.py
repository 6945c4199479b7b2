"""Shared by the benchmarks: throwaway databases, bulk seeding, timing.

A benchmark never touches a real database: SQLite goes to a temporary file and
PostgreSQL to a database created for the run (and dropped after it), both migrated to
the app's schema with Alembic so the indexes measured are the ones deployed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from jotpay_app.models import (
    Clinician,
    Patient,
    PaymentRequest,
    Practice,
    SmsMessage,
)
from jotpay_app.services.db import make_engine
from jotpay_app.services.migrations import upgrade_to_head
from jotpay_app.services.money import breakdown
from tests.pgdb import throwaway_database

BATCH_ROWS = 5_000
FIRST_NAMES = [
    "Maria",
    "James",
    "Aisha",
    "Wei",
    "Olivia",
    "Noah",
    "Sofia",
    "Liam",
    "Fatima",
    "Lucas",
    "Chloe",
    "Mateo",
    "Priya",
    "Ethan",
    "Yuki",
    "Amara",
    "Diego",
    "Hannah",
    "Omar",
    "Grace",
    "Ivan",
    "Zara",
    "Leo",
    "Nadia",
    "Samuel",
    "Elena",
    "Kofi",
    "Mia",
]
LAST_NAMES = [
    "Okonkwo",
    "Smith",
    "Nguyen",
    "Garcia",
    "Kim",
    "Patel",
    "Johnson",
    "Rossi",
    "Cohen",
    "Haddad",
    "Silva",
    "Brown",
    "Novak",
    "Tanaka",
    "Mensah",
    "Murphy",
    "Lopez",
    "Ali",
    "Schmidt",
    "Dubois",
    "Ivanova",
    "Clarke",
    "Reyes",
    "Chen",
    "Moreau",
    "Diaz",
]
REASONS = (
    "Session fee",
    "Copay",
    "No-show fee",
    "Late cancellation fee",
    "Outstanding balance",
    "Intake assessment",
)
# A practice's requests over a few years: most paid, a tail of everything else.
STATUS_MIX: tuple[tuple[str, float], ...] = (
    ("paid", 0.55),
    ("partially_refunded", 0.02),
    ("refunded", 0.03),
    ("sent", 0.14),
    ("overdue", 0.08),
    ("payment_failed", 0.03),
    ("sms_failed", 0.02),
    ("canceled", 0.11),
    ("sending", 0.01),
    ("awaiting_setup", 0.01),
)
SMS_STATUS_FOR = {"sms_failed": "failed", "sending": "pending", "awaiting_setup": ""}


def median_ms(run: Callable[[], object], *, runs: int = 9, warmup: int = 1) -> float:
    """Median wall time of `run()` in milliseconds (after `warmup` unmeasured runs)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def emit(key: str, value: float | int | str) -> None:
    """One `key=value` line on stdout (the only thing a benchmark prints there)."""
    if isinstance(value, float):
        value = f"{value:.1f}"
    print(f"{key}={value}", flush=True)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="jotpay-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_to_head(url)
        yield url


def postgres_admin_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or ""


def postgres_reachable(url: str) -> bool:
    if not url:
        return False
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def postgres_database(admin_url: str) -> contextlib.AbstractContextManager[str]:
    """A database created for this run on the server of `admin_url`, dropped afterwards."""
    return throwaway_database(admin_url, prefix="jotpay_bench")


@dataclass(frozen=True)
class Seeded:
    practice_id: int
    clinician_id: int
    tz: str
    requests: int
    patients: int


def _batches(rows: Iterator[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed_requests(
    engine: Engine,
    *,
    requests: int = 100_000,
    patients: int = 300,
    tz: str = "America/New_York",
    seed: int = 20261204,
    today: dt.date | None = None,
) -> Seeded:
    """One practice, one clinician with `requests` payment requests (one text each) spread
    over three years, plus a colleague with a few, inserted in executemany batches."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    now = dt.datetime.combine(today, dt.time(12), dt.UTC)
    statuses, weights = zip(*STATUS_MIX, strict=True)
    practice_t = Practice.__table__  # type: ignore[attr-defined]
    clinician_t = Clinician.__table__  # type: ignore[attr-defined]
    patient_t = Patient.__table__  # type: ignore[attr-defined]
    request_t = PaymentRequest.__table__  # type: ignore[attr-defined]
    sms_t = SmsMessage.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        practice_id = conn.execute(
            practice_t.insert()
            .values(
                name="Bench Practice",
                timezone=tz,
                reminder_days="1,3,7",
                reminder_hour=10,
                max_reminders=3,
                next_invoice_number=1,
                created_at=now,
            )
            .returning(practice_t.c.id)
        ).scalar_one()
        clinician_ids = [
            conn.execute(
                clinician_t.insert()
                .values(
                    practice_id=practice_id,
                    email=f"bench{n}-{secrets.token_hex(3)}@example.com",
                    full_name=f"Dr. Bench {n}",
                    password_hash="!",
                    created_at=now,
                )
                .returning(clinician_t.c.id)
            ).scalar_one()
            for n in range(2)
        ]
        conn.execute(
            patient_t.insert(),
            [
                {
                    "practice_id": practice_id,
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": rng.choice(LAST_NAMES) + ("" if n < 150 else f"-{n}"),
                    "email": f"p{n}@example.com",
                    "mobile_e164": f"+1617555{n:04d}",
                    "sms_consent_method": "Verbally, in session",
                    "sms_consent_at": now,
                    "sms_opted_out": False,
                    "created_at": now,
                }
                for n in range(patients)
            ],
        )
        patient_ids = list(
            conn.execute(
                sa.select(patient_t.c.id).where(patient_t.c.practice_id == practice_id)
            ).scalars()
        )

    def request_rows() -> Iterator[dict[str, object]]:
        colleague_share = 1_000
        for n in range(requests + colleague_share):
            created = now - dt.timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
            amount = rng.choice((5000, 7500, 12000, 15000, 18000, 20000, 2500, 4000))
            fees = breakdown(amount)
            status = rng.choices(statuses, weights)[0]
            paid = status in ("paid", "partially_refunded", "refunded")
            refunded = {"refunded": amount, "partially_refunded": amount // 4}.get(status, 0)
            yield {
                "id": n + 1,
                "practice_id": practice_id,
                "clinician_id": clinician_ids[0 if n < requests else 1],
                "patient_id": rng.choice(patient_ids),
                "appointment_id": None,
                "note_id": None,
                "invoice_number": n + 1,
                "amount_cents": amount,
                "fee_cents": fees.fee_cents,
                "net_cents": fees.net_cents,
                "amount_refunded_cents": refunded,
                "reason": rng.choice(REASONS),
                "due_date": (created + dt.timedelta(days=rng.choice((7, 14, 30)))).date(),
                "status": status,
                "pay_token": secrets.token_urlsafe(16),
                "submit_key": secrets.token_hex(16),
                "checkout_session_id": "",
                "checkout_url": "",
                "checkout_attempt": 0,
                "payment_intent_id": f"pi_bench_{n}" if paid else "",
                "failure_reason": "",
                "needs_attention": status == "paid" and rng.random() < 0.002,
                "sms_attempts": 1,
                "reminders_sent": 0,
                "created_at": created,
                "updated_at": created,
                "sent_at": created,
                "paid_at": created + dt.timedelta(hours=rng.randrange(1, 240)) if paid else None,
                "canceled_at": created + dt.timedelta(days=2) if status == "canceled" else None,
            }

    with engine.begin() as conn:
        for batch in _batches(request_rows(), BATCH_ROWS):
            conn.execute(request_t.insert(), batch)
            texts = [
                {
                    "practice_id": practice_id,
                    "patient_id": row["patient_id"],
                    "request_id": row["id"],
                    "purpose": "request",
                    "to_e164": "+16175550000",
                    "body": "Bench Practice: payment request. Pay securely: https://x/pay/t",
                    "twilio_sid": None,
                    "status": SMS_STATUS_FOR.get(str(row["status"]), "delivered"),
                    "error_code": "",
                    "created_at": row["created_at"],
                    "updated_at": row["created_at"],
                }
                for row in batch
                if SMS_STATUS_FOR.get(str(row["status"]), "delivered")
            ]
            conn.execute(sms_t.insert(), texts)
        conn.execute(
            practice_t.update()
            .where(practice_t.c.id == practice_id)
            .values(next_invoice_number=requests + 1_001)
        )
        if engine.dialect.name == "postgresql":
            # Ids were given explicitly: move the sequences past them.
            for table in ("paymentrequest", "smsmessage"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    with engine.connect() as conn:
        # Fresh statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keep.
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    return Seeded(practice_id, clinician_ids[0], tz, requests, patients)


def engine_for(url: str) -> Engine:
    return make_engine(url)
