from sqlmodel import Session

from jotpay_app.services import changes, lifecycle
from tests import factories


def test_committed_request_changes_are_announced_once_per_commit(sqlite_engine) -> None:
    heard: list[list[changes.ChangeNotice]] = []
    listener = heard.append
    changes.subscribe(listener)
    try:
        with Session(sqlite_engine) as s:
            p = factories.practice(s)
            c = factories.clinician(s, p.id)
            pat = factories.patient(s, p.id)
            r = factories.payment_request(s, p.id, c.id, pat.id)
            practice_id = p.id
            s.commit()
            heard.clear()
            lifecycle.transition(s, r, "paid", actor="stripe", kind="paid")
            s.rollback()  # rolled back: nothing to tell
            assert heard == []
            r = s.get(type(r), r.id)
            request_id = r.id
            lifecycle.record_event(s, r, actor="twilio", kind="sms_delivered")
            s.commit()
        assert heard == [[changes.ChangeNotice(practice_id, frozenset({request_id}))]]
    finally:
        changes.unsubscribe(listener)


def test_bulk_overdue_marking_announces_the_requests(sqlite_engine) -> None:
    import datetime as dt

    from jotpay_app.services.reminders import mark_overdue

    heard: list[list[changes.ChangeNotice]] = []
    changes.subscribe(heard.append)
    try:
        with Session(sqlite_engine) as s:
            p = factories.practice(s)
            c = factories.clinician(s, p.id)
            pat = factories.patient(s, p.id)
            late = factories.payment_request(s, p.id, c.id, pat.id)
            late.due_date = dt.date(2026, 1, 1)
            s.add(late)
            practice_id, late_id = p.id, late.id
            s.commit()
        heard.clear()
        marked, _ = mark_overdue(sqlite_engine, dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC))
        assert marked == 1
        assert heard == [[changes.ChangeNotice(practice_id, frozenset({late_id}))]]
    finally:
        changes.unsubscribe(heard.append)
