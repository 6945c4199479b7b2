"""Migrations, demo seed and practice isolation on SQLite and PostgreSQL."""

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, func, select

from alembic import command
from jotpay_app.models import (
    Appointment,
    Clinician,
    Note,
    Patient,
    PaymentRequest,
    Practice,
    RequestStatus,
)
from jotpay_app.services import patients as patient_svc
from jotpay_app.services import payments as payment_svc
from jotpay_app.services import schedule as schedule_svc
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.migrations import alembic_config
from jotpay_app.services.seed import DEMO2_EMAIL, DEMO_EMAIL, OTHER_EMAIL, reseed, seed_if_empty


def test_migrations_apply_from_empty_and_match_the_models(engine: Engine) -> None:
    """The fixture migrated an empty database; the result equals what the models declare."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert diff == [], f"models and migrations differ: {diff}"
    assert version


def test_downgrade_to_base_and_back(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'updown.db'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    eng = sa.create_engine(url)
    assert sa.inspect(eng).get_table_names() == ["alembic_version"]
    command.upgrade(config, "head")
    assert "paymentrequest" in sa.inspect(eng).get_table_names()
    eng.dispose()


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.exec(select(func.count()).select_from(model)).one()
        for model in (Practice, Clinician, Patient, Appointment, Note, PaymentRequest)
    )


def test_seed_is_idempotent_and_reseed_restores(engine: Engine) -> None:
    today = dt.date(2026, 12, 4)
    with Session(engine) as s:
        first = seed_if_empty(s, today=today)
        s.commit()
        assert first is not None
        before = counts(s)
        assert seed_if_empty(s, today=today) is None
        s.commit()
        assert counts(s) == before
        assert before[:3] == (2, 3, 28)
        assert before[3] == 88  # 80 in the demo practice, 8 in the other
        # Change something, reseed, and get the same shape back.
        s.execute(sa.delete(Note))
        s.commit()
        reseed(s, today=today)
        s.commit()
        assert counts(s) == before


def test_demo_data_shape(engine: Engine) -> None:
    with Session(engine) as s:
        seed_if_empty(s, today=dt.date(2026, 12, 4))
        s.commit()
        demo = s.exec(select(Clinician).where(Clinician.email == DEMO_EMAIL)).one()
        demo2 = s.exec(select(Clinician).where(Clinician.email == DEMO2_EMAIL)).one()
        statuses = set(
            s.exec(
                select(PaymentRequest.status).where(PaymentRequest.clinician_id == demo2.id)
            ).all()
        )
        connected_statuses = {st.value for st in RequestStatus} - {"awaiting_setup", "sending"}
        assert statuses == connected_statuses
        assert (
            s.exec(
                select(func.count())
                .select_from(PaymentRequest)
                .where(PaymentRequest.clinician_id == demo.id)
            ).one()
            == 0
        )
        no_mobile = s.exec(
            select(func.count())
            .select_from(Patient)
            .where(Patient.practice_id == demo.practice_id, Patient.mobile_e164 == "")
        ).one()
        assert 1 <= no_mobile <= 6
        numbers = s.exec(
            select(PaymentRequest.invoice_number).order_by(PaymentRequest.invoice_number)
        ).all()
        assert numbers == list(range(1, len(numbers) + 1))


def test_practice_isolation(engine: Engine) -> None:
    with Session(engine) as s:
        seed_if_empty(s, today=dt.date(2026, 12, 4))
        s.commit()
        demo2 = s.exec(select(Clinician).where(Clinician.email == DEMO2_EMAIL)).one()
        other = s.exec(select(Clinician).where(Clinician.email == OTHER_EMAIL)).one()
        a_patient = s.exec(select(Patient).where(Patient.practice_id == demo2.practice_id)).first()
        a_appt = s.exec(
            select(Appointment).where(Appointment.practice_id == demo2.practice_id)
        ).first()
        tz = "America/Chicago"
        with pytest.raises(NotFoundError):
            patient_svc.patient_profile(s, other.practice_id, a_patient.id, tz)
        with pytest.raises(NotFoundError):
            schedule_svc.session_details(s, other.practice_id, a_appt.id, tz)
        names = {r.name for r in patient_svc.search_patients(s, other.practice_id)}
        assert a_patient.full_name not in names and len(names) == 3
        # Payment Settings lists only the logged-in clinician's own requests.
        assert payment_svc.clinician_requests(s, other.id, tz).total == 0
        page = payment_svc.clinician_requests(s, demo2.id, tz, page=1, page_size=5)
        assert page.total == 11 and len(page.rows) == 5
