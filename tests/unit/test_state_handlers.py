"""State handlers called directly, against a throwaway SQLite database."""

import pytest
from sqlmodel import Session, select

from jotpay_app.models import Patient
from jotpay_app.services import auth
from jotpay_app.state.base import AuthState
from jotpay_app.state.patients import PatientListState, PatientProfileState, route_id
from tests import factories


@pytest.fixture
def logged_in(app_db):
    with Session(app_db) as s:
        p = factories.practice(s, "Riverside")
        doc = factories.clinician(
            s, p.id, email="doc@example.com", password_hash=auth.hash_password("pw-123456")
        )
        ann = factories.patient(s, p.id, "Ann", "Lee", "")
        token = auth.start_session(s, doc.id)
        s.commit()
        return token, ann.id


def test_route_id() -> None:
    assert route_id("/patients/12", "/patients/") == 12
    assert route_id("/patients/abc", "/patients/") == 0
    assert route_id("/patients/", "/patients/") == 0


def test_log_in_with_wrong_password_shows_the_message(app_db, logged_in) -> None:
    state = AuthState()
    state.log_in({"email": "doc@example.com", "password": "nope"})
    assert state.login_error == "Email or password is incorrect"
    assert state.auth_token == ""


def test_log_in_sets_a_token_that_identifies_the_clinician(app_db, logged_in) -> None:
    state = AuthState()
    state.log_in({"email": "doc@example.com", "password": "pw-123456"})
    assert state.login_error == ""
    assert state.identity() is not None
    assert state.identity().email == "doc@example.com"


def test_patient_list_search(app_db, logged_in) -> None:
    token, _ = logged_in
    state = PatientListState()
    state.auth_token = token
    state.set_query("ann")
    assert [r.name for r in state.rows] == ["Ann Lee"]
    state.set_query("zzz")
    assert state.rows == []


def test_save_mobile_with_bad_number_shows_error_and_saves_nothing(app_db, logged_in) -> None:
    token, ann_id = logged_in
    state = PatientProfileState()
    state.auth_token = token
    state.profile = state.profile.__class__(**{**state.profile.__dict__, "id": ann_id})
    state.start_edit_mobile()
    state.set_mobile_input("12")
    state.save_mobile()
    assert state.mobile_error == "This is not a valid phone number. Check the digits."
    assert state.editing_mobile
    with Session(app_db) as s:
        assert s.exec(select(Patient.mobile_e164).where(Patient.id == ann_id)).one() == ""


def test_save_mobile_without_consent_asks_for_it(app_db, logged_in) -> None:
    token, ann_id = logged_in
    state = PatientProfileState()
    state.auth_token = token
    state.profile = state.profile.__class__(**{**state.profile.__dict__, "id": ann_id})
    state.set_mobile_input("(617) 555-0142")
    assert state.mobile_changed
    state.save_mobile()
    assert state.consent_error == "Confirm that the patient agreed to receive payment texts."
    state.set_consent_given(True)
    state.set_consent_method("Verbally, in session")
    state.save_mobile()
    assert state.consent_error == "" and state.mobile_error == ""
    assert not state.editing_mobile
    assert state.profile.mobile_display == "(617) 555-0142"
    assert state.profile.sms_consent.startswith("Agreed to payment texts on")
    with Session(app_db) as s:
        assert (
            s.exec(select(Patient.mobile_e164).where(Patient.id == ann_id)).one() == "+16175550142"
        )
