"""The overdue sweep against real databases and the Twilio stand-in.

* Several schedulers sweeping one PostgreSQL database at the same moment: every due
  reminder is sent exactly once, none is skipped wrongly, caps hold across workers.
* The sweep on SQLite and PostgreSQL alike (bulk overdue marking, statement count).
* A reminder through the real `twilio` SDK against `python -m jotpay_app.sandbox`.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from jotpay_app.models import PaymentEvent, Practice, ReminderRecord, SmsMessage, utcnow
from jotpay_app.services import reminders, sms_caps
from jotpay_app.services.db import make_engine
from jotpay_app.services.reminders import (
    ReminderNowResult,
    SweepResult,
    mark_overdue,
    send_reminder_now,
    sweep,
)
from jotpay_app.services.sms import SentSms, SmsGateway
from jotpay_app.services.timefmt import local_today
from jotpay_app.services.twilio_http import build_twilio_client
from tests.sandbox_twilio_helpers import SandboxProcess
from tests.unit.test_reminders import (
    BASE_URL,
    DUE,
    NY,
    PRACTICE_NAME,
    REASON,
    FakeSms,
    FakeStripe,
    at,
    days,
    make_scene,
    records,
    reminder_texts,
    request_row,
)

pytestmark = pytest.mark.timeout(120)
WORKERS = 4


class SlowFakeSms(FakeSms):
    """Twilio takes a moment to answer, as it does: widens every race between workers."""

    def send(self, *, to: str, body: str) -> SentSms:
        time.sleep(0.005)
        return super().send(to=to, body=body)


def sweep_at_once(engine: Engine, now: dt.datetime, sms: FakeSms) -> list[SweepResult]:
    """`WORKERS` schedulers, each with its own engine (own connections), released at once."""
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)
    results: list[SweepResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(own_engine: Engine) -> None:
        try:
            start.wait()
            result = sweep(own_engine, sms, FakeStripe(), public_base_url=BASE_URL, now=now)
            with lock:
                results.append(result)
        except BaseException as exc:  # reported below, with the thread's traceback
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    for own_engine in engines:
        own_engine.dispose()
    if errors:
        raise errors[0]
    assert len(results) == WORKERS
    return results


def texts_per_request(engine: Engine) -> collections.Counter[int]:
    with Session(engine) as session:
        rows = session.exec(
            select(SmsMessage.request_id).where(SmsMessage.purpose == "reminder")
        ).all()
    return collections.Counter(int(r or 0) for r in rows)


@pytest.mark.postgres
def test_concurrent_sweeps_send_every_due_reminder_exactly_once(pg_engine: Engine) -> None:
    scene = make_scene(pg_engine)
    # 50 requests due on DUE, each to its own patient: reminder 1 is due at DUE+1 10:00.
    on_time = [scene.request(patient_id=scene.patient()) for _ in range(50)]
    # 10 whose app was "down": due 9 days earlier, so reminder 3 is the one due.
    caught_up = [scene.request(due=DUE - days(9), patient_id=scene.patient()) for _ in range(10)]
    # Two requests to one patient: the daily cap lets only one of them through a day.
    shared = scene.patient()
    siblings = [scene.request(patient_id=shared), scene.request(patient_id=shared)]
    sms = SlowFakeSms()

    first_day = at(NY, DUE + days(1), 10, 30)
    results = sweep_at_once(pg_engine, first_day, sms)

    assert sum(r.marked_overdue for r in results) == 62
    assert sum(r.reminders_sent for r in results) == 61
    assert len(sms.texts) == 61
    assert len({t.body for t in sms.texts}) == 61  # no request texted twice
    per_request = texts_per_request(pg_engine)
    for request_id in on_time:
        assert per_request[request_id] == 1
        assert records(pg_engine, request_id) == [(1, "sent")]
    for request_id in caught_up:
        assert per_request[request_id] == 1
        assert records(pg_engine, request_id) == [(1, "skipped"), (2, "skipped"), (3, "sent")]
    assert sorted(per_request[r] for r in siblings) == [0, 1]
    assert sorted(len(records(pg_engine, r)) for r in siblings) == [0, 1]
    with Session(pg_engine) as session:
        overdue_events = session.exec(
            select(PaymentEvent.request_id, func.count())
            .where(PaymentEvent.kind == "overdue")
            .group_by(PaymentEvent.request_id)  # type: ignore[arg-type]
        ).all()
        still_claimed = session.exec(
            select(func.count()).where(ReminderRecord.status == "claimed")
        ).one()
    assert len(overdue_events) == 62 and {n for _, n in overdue_events} == {1}
    assert still_claimed == 0

    # Two days later: reminder 2 for the 50, the held sibling's turn, nothing for the 10.
    third_day = at(NY, DUE + days(3), 10, 30)
    results = sweep_at_once(pg_engine, third_day, sms)
    assert sum(r.reminders_sent for r in results) == 51
    assert len(sms.texts) == 61 + 51
    per_request = texts_per_request(pg_engine)
    for request_id in on_time:
        assert per_request[request_id] == 2
        assert records(pg_engine, request_id) == [(1, "sent"), (2, "sent")]
    for request_id in caught_up:
        assert per_request[request_id] == 1
    assert sum(per_request[r] for r in siblings) == 2


@pytest.mark.postgres
def test_two_reminders_to_one_patient_at_once_respect_the_daily_cap(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clinicians press "Send reminder now" on two requests of the same patient at the
    same moment. The cap check is slowed down so both checks would overlap without the
    patient row lock: exactly one text goes, the other gets the cap's reason."""
    scene = make_scene(pg_engine)
    first, second = scene.request(), scene.request()
    sms = FakeSms()
    original_reason = sms_caps.blocked_reason

    def slow_blocked_reason(*args, **kwargs):  # type: ignore[no-untyped-def]
        reason = original_reason(*args, **kwargs)
        time.sleep(0.3)
        return reason

    monkeypatch.setattr(reminders.sms_caps, "blocked_reason", slow_blocked_reason)
    url = pg_engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    start = threading.Barrier(2)
    outcomes: dict[int, ReminderNowResult] = {}

    def press(own_engine: Engine, request_id: int) -> None:
        start.wait()
        outcomes[request_id] = send_reminder_now(
            own_engine, scene.clinician_id, request_id, sms, BASE_URL, at(NY, DUE, 12)
        )

    threads = [
        threading.Thread(target=press, args=(e, r))
        for e, r in zip(engines, (first, second), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for own_engine in engines:
        own_engine.dispose()

    assert sorted(o.sent for o in outcomes.values()) == [False, True]
    (refused,) = [o for o in outcomes.values() if not o.sent]
    assert refused.message.startswith("Already texted today")
    assert len(sms.texts) == 1


def test_sweep_on_both_databases(engine: Engine) -> None:
    scene = make_scene(engine)
    la = make_scene(engine, tz="America/Los_Angeles")
    due_requests = [scene.request(patient_id=scene.patient()) for _ in range(5)]
    in_la = la.request()
    sms = FakeSms()

    # 10:30 in New York is 07:30 in Los Angeles: overdue there too, but its reminder is
    # due at 10:00 Los Angeles time, hours away.
    result = sweep(
        engine, sms, FakeStripe(), public_base_url=BASE_URL, now=at(NY, DUE + days(1), 10, 30)
    )

    assert result.marked_overdue == 6
    assert (result.reminders_sent, result.reminders_held) == (5, 0)
    assert result.overdue_statements <= 6
    for request_id in due_requests:
        assert records(engine, request_id) == [(1, "sent")]
    assert request_row(engine, in_la).status == "overdue"
    assert records(engine, in_la) == []


def test_overdue_marking_statements_do_not_grow_with_rows(engine: Engine) -> None:
    scene = make_scene(engine)
    for _ in range(5):
        scene.request()
    few = mark_overdue(engine, at(NY, DUE + days(1), 1))
    for _ in range(200):
        scene.request(due=DUE + days(1))
    many = mark_overdue(engine, at(NY, DUE + days(2), 1))
    assert (few[0], many[0]) == (5, 200)
    assert few[1] == many[1]


# -- through the real twilio SDK against the stand-in -----------------------------------------
def timezone_at_noon(now: dt.datetime) -> str:
    """A fixed-offset zone where it is about noon now, so texting hours never get in the way
    whatever time the test runs (Etc/GMT signs are inverted: Etc/GMT+4 is UTC-4)."""
    offset = 12 - now.hour
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


@pytest.fixture
def twilio_sandbox(tmp_path: Path):
    with SandboxProcess(data_dir=tmp_path / "twilio") as sandbox:
        yield sandbox


def sandbox_gateway(sandbox: SandboxProcess) -> SmsGateway:
    client = build_twilio_client(
        sandbox.account_sid, sandbox.auth_token, base_url=sandbox.base_url, timeout=5
    )
    # Nobody listens at the callback URL: these tests read the stand-in's own records.
    return SmsGateway(
        client,
        from_number="+15005550006",
        status_callback_url="http://127.0.0.1:9/api/twilio/status",
    )


def outbound_to(sandbox: SandboxProcess, number: str) -> list[dict]:
    return [
        m
        for m in sandbox.debug_messages()["messages"]  # type: ignore[union-attr]
        if str(m["direction"]).startswith("outbound") and m["to"] == number
    ]


def test_reminder_text_arrives_through_the_twilio_sdk(
    sqlite_engine: Engine, twilio_sandbox: SandboxProcess
) -> None:
    now = utcnow()
    tz = timezone_at_noon(now)
    scene = make_scene(sqlite_engine, tz=tz)
    request_id = scene.request(due=local_today(tz, now) - days(1), amount=8750)
    sms = sandbox_gateway(twilio_sandbox)

    result = sweep(sqlite_engine, sms, FakeStripe(), public_base_url=BASE_URL, now=now)
    again = sweep(
        sqlite_engine,
        sms,
        FakeStripe(),
        public_base_url=BASE_URL,
        now=now + dt.timedelta(minutes=5),
    )

    assert (result.marked_overdue, result.reminders_sent, again.reminders_sent) == (1, 1, 0)
    (message,) = reminder_texts(sqlite_engine, request_id)
    (received,) = outbound_to(twilio_sandbox, message.to_e164)
    token = request_row(sqlite_engine, request_id).pay_token
    assert received["sid"] == message.twilio_sid
    assert PRACTICE_NAME in received["body"]
    assert "$87.50" in received["body"]
    assert f"{BASE_URL}/pay/{token}" in received["body"]
    assert REASON not in received["body"] and "panic" not in received["body"]


def test_reminder_accepted_despite_a_twilio_error_is_found_not_resent(
    sqlite_engine: Engine, twilio_sandbox: SandboxProcess
) -> None:
    now = utcnow()
    tz = timezone_at_noon(now)
    scene = make_scene(sqlite_engine, tz=tz)
    request_id = scene.request(due=local_today(tz, now) - days(1))
    sms = sandbox_gateway(twilio_sandbox)
    # Twilio creates the message, then answers 500: the sweep must look before resending.
    twilio_sandbox.set_fault(mode="error_after_create", count=1)

    result = sweep(sqlite_engine, sms, FakeStripe(), public_base_url=BASE_URL, now=now)

    assert result.reminders_sent == 1
    (message,) = reminder_texts(sqlite_engine, request_id)
    (received,) = outbound_to(twilio_sandbox, message.to_e164)
    assert received["sid"] == message.twilio_sid
    assert records(sqlite_engine, request_id) == [(1, "sent")]


def test_practice_default_cadence_is_the_documented_one(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        practice = Practice(name="Defaults")
        session.add(practice)
        session.commit()
        assert (practice.reminder_days, practice.reminder_hour, practice.max_reminders) == (
            "1,3,7",
            10,
            3,
        )
