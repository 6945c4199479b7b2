"""One open request per appointment, even when several clinicians click at once."""

import datetime as dt
import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from jotpay_app.models import PaymentRequest, StripeAccount
from jotpay_app.services.auth import Identity
from jotpay_app.services.requests import RequestForm, submit_request
from tests import factories


def world(engine: Engine) -> tuple[list[Identity], int, int]:
    with Session(engine) as s:
        p = factories.practice(s, "Riverside")
        clinicians = [factories.clinician(s, p.id) for _ in range(4)]
        for n, c in enumerate(clinicians):
            s.add(
                StripeAccount(
                    clinician_id=c.id, stripe_account_id=f"acct_{n}_{c.id}", charges_enabled=True
                )
            )
        pat = factories.patient(s, p.id)
        st = factories.session_type(s, p.id)
        appt = factories.appointment(s, p.id, pat.id, clinicians[0].id, st.id)
        s.commit()
        who = [Identity(c.id, p.id, c.full_name, c.email, p.name, p.timezone) for c in clinicians]
        return who, pat.id, appt.id


def test_concurrent_requests_for_one_appointment_make_one(engine: Engine) -> None:
    clinicians, patient_id, appointment_id = world(engine)
    due = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    barrier = threading.Barrier(8)
    results: list[tuple[int, bool, str]] = []
    errors: list[BaseException] = []

    def click(n: int) -> None:
        # Different clinicians and amounts: only the appointment rule can tie them.
        form = RequestForm(amount=f"{100 + n}.00", reason="Session fee", due_date=due)
        barrier.wait()
        try:
            results.append(
                submit_request(
                    engine,
                    clinicians[n % 4],
                    patient_id=patient_id,
                    form=form,
                    max_cents=1_000_000,
                    appointment_id=appointment_id,
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as s:
        count = s.exec(
            select(func.count())
            .select_from(PaymentRequest)
            .where(PaymentRequest.appointment_id == appointment_id)
        ).one()
    assert count == 1
    assert sum(created for _, created, _ in results) == 1
    assert len({request_id for request_id, _, _ in results}) == 1
