import datetime as dt

import pytest
from sqlmodel import Session, select

from jotpay_app.models import Appointment, Note
from jotpay_app.services import notes as note_svc
from jotpay_app.services import schedule as svc
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.timefmt import local_to_utc
from tests import factories

TZ = "America/New_York"


@pytest.fixture
def world(session: Session):
    a = factories.practice(session, "A", TZ)
    b = factories.practice(session, "B", TZ)
    doc = factories.clinician(session, a.id, name="Dr. A")
    pat = factories.patient(session, a.id, "Ann", "Lee")
    st = factories.session_type(session, a.id)
    # Wednesday 2026-12-09, 10:30 local
    start = local_to_utc(dt.datetime(2026, 12, 9, 10, 30), TZ)
    appt = factories.appointment(session, a.id, pat.id, doc.id, st.id, starts_at=start, minutes=60)
    return a, b, doc, pat, appt


def test_week_starts_monday() -> None:
    assert svc.week_start(dt.date(2026, 12, 9)) == dt.date(2026, 12, 7)
    assert svc.week_start(dt.date(2026, 12, 7)) == dt.date(2026, 12, 7)


def test_appointment_is_placed_at_its_local_time(session: Session, world) -> None:
    a, b, _doc, _pat, appt = world
    cal = svc.calendar_range(session, a.id, dt.date(2026, 12, 7), 7, TZ, dt.date(2026, 12, 9))
    assert cal.title == "Dec 7 – 13, 2026"
    assert [d.is_today for d in cal.days].index(True) == 2
    (block,) = cal.appointments
    assert block.id == appt.id and block.day_index == 2
    visible = (svc.DAY_END_HOUR - svc.DAY_START_HOUR) * 60
    assert block.top_pct == pytest.approx(100 * 210 / visible, abs=0.01)  # 10:30 is 3.5 h after 7
    assert block.height_pct == pytest.approx(100 * 60 / visible, abs=0.01)
    assert block.time_label == "10:30 AM"
    # Another practice's calendar and another week are empty.
    assert (
        svc.calendar_range(
            session, b.id, dt.date(2026, 12, 7), 7, TZ, dt.date(2026, 12, 9)
        ).appointments
        == []
    )
    assert (
        svc.calendar_range(
            session, a.id, dt.date(2026, 12, 14), 7, TZ, dt.date(2026, 12, 9)
        ).appointments
        == []
    )


def test_day_view_and_session_details(session: Session, world) -> None:
    a, b, _doc, _pat, appt = world
    day = svc.calendar_range(session, a.id, dt.date(2026, 12, 9), 1, TZ, dt.date(2026, 12, 9))
    assert day.title == "Wednesday, Dec 9, 2026" and len(day.appointments) == 1
    details = svc.session_details(session, a.id, appt.id, TZ)
    assert (details.patient_name, details.time, details.fee) == (
        "Ann Lee",
        "10:30 AM – 11:30 AM",
        "$180.00",
    )
    with pytest.raises(NotFoundError):
        svc.session_details(session, b.id, appt.id, TZ)


def test_generate_note_saves_it_and_announces_the_moment(session: Session, world, monkeypatch):
    a, _b, doc, pat, appt = world
    heard: list[note_svc.NoteGenerated] = []
    monkeypatch.setattr(note_svc, "_listeners", [lambda _s, event: heard.append(event)])
    data = note_svc.NoteInput(
        subjective="Slept better.", objective="", assessment="", plan="Continue weekly."
    )
    note, event = note_svc.generate_note(
        session, practice_id=a.id, clinician_id=doc.id, appointment_id=appt.id, data=data, tz=TZ
    )
    assert session.exec(select(Note)).one().id == note.id
    assert "S — Subjective\nSlept better." in note.content
    assert "P — Plan\nContinue weekly." in note.content
    assert heard == [event]
    assert (event.note_id, event.appointment_id, event.patient_id) == (note.id, appt.id, pat.id)
    assert svc.session_details(session, a.id, appt.id, TZ).note_id == note.id


def test_note_needs_subjective_and_plan_and_saves_nothing_otherwise(session: Session, world):
    a, _b, doc, _pat, appt = world
    with pytest.raises(FieldErrors) as exc:
        note_svc.generate_note(
            session,
            practice_id=a.id,
            clinician_id=doc.id,
            appointment_id=appt.id,
            data=note_svc.NoteInput("", "seen", "", " "),
            tz=TZ,
        )
    assert set(exc.value.errors) == {"subjective", "plan"}
    assert session.exec(select(Note)).all() == []


def test_note_for_another_practice_appointment_is_not_found(session: Session, world):
    _a, b, _doc, _pat, appt = world
    other_doc = factories.clinician(session, b.id)
    with pytest.raises(NotFoundError):
        note_svc.generate_note(
            session,
            practice_id=b.id,
            clinician_id=other_doc.id,
            appointment_id=appt.id,
            data=note_svc.NoteInput("x", "", "", "y"),
            tz=TZ,
        )
    assert session.get(Appointment, appt.id).status == "scheduled"


def test_overlapping_appointments_share_the_column(session: Session, world) -> None:
    a, _b, doc, pat, appt = world
    other_doc = factories.clinician(session, a.id)
    st = factories.session_type(session, a.id, code="99214")
    start = local_to_utc(dt.datetime(2026, 12, 9, 11, 0), TZ)  # overlaps 10:30-11:30
    second = factories.appointment(session, a.id, pat.id, other_doc.id, st.id, starts_at=start)
    later = factories.appointment(
        session,
        a.id,
        pat.id,
        doc.id,
        st.id,
        starts_at=local_to_utc(dt.datetime(2026, 12, 9, 15, 0), TZ),
    )
    cal = svc.calendar_range(session, a.id, dt.date(2026, 12, 7), 7, TZ, dt.date(2026, 12, 9))
    by_id = {x.id: x for x in cal.appointments}
    assert (by_id[appt.id].left_pct, by_id[appt.id].width_pct) == (0, 50)
    assert (by_id[second.id].left_pct, by_id[second.id].width_pct) == (50, 50)
    assert (by_id[later.id].left_pct, by_id[later.id].width_pct) == (0, 100)
