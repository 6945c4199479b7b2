import pytest
from sqlmodel import Session

from jotpay_app.models import Patient
from jotpay_app.services import patients as svc
from jotpay_app.services.errors import FieldErrors, NotFoundError
from tests import factories

TZ = "America/New_York"


@pytest.fixture
def world(session: Session):
    a = factories.practice(session, "A")
    b = factories.practice(session, "B")
    doc = factories.clinician(session, a.id)
    ann = factories.patient(session, a.id, "Ann", "Lee", "+16175550101")
    bob = factories.patient(session, a.id, "Bob", "Stone", "")
    other = factories.patient(session, b.id, "Zed", "Lee", "+16175550199")
    return a, b, doc, ann, bob, other


def test_search_by_name_email_and_digits_stays_in_practice(session: Session, world) -> None:
    a, _b, _doc, ann, bob, _other = world
    assert [r.name for r in svc.search_patients(session, a.id)] == ["Ann Lee", "Bob Stone"]
    assert [r.id for r in svc.search_patients(session, a.id, "lee")] == [ann.id]
    assert [r.id for r in svc.search_patients(session, a.id, "STO")] == [bob.id]
    assert [r.id for r in svc.search_patients(session, a.id, "0101")] == [ann.id]
    assert svc.search_patients(session, a.id, "zed") == []


def test_profile_of_another_practice_is_not_found(session: Session, world) -> None:
    a, b, _doc, ann, _bob, other = world
    with pytest.raises(NotFoundError):
        svc.patient_profile(session, a.id, other.id, TZ)
    with pytest.raises(NotFoundError):
        svc.patient_profile(session, b.id, ann.id, TZ)
    with pytest.raises(NotFoundError):
        svc.patient_profile(session, a.id, 999_999, TZ)
    assert svc.patient_profile(session, a.id, ann.id, TZ).mobile_display == "(617) 555-0101"


def test_new_mobile_requires_consent_and_records_when_and_how(session: Session, world) -> None:
    a, _b, doc, _ann, bob, _other = world
    with pytest.raises(FieldErrors) as exc:
        svc.update_mobile(
            session,
            practice_id=a.id,
            patient_id=bob.id,
            clinician_id=doc.id,
            mobile_text="(617) 555-0177",
            consent_given=False,
            consent_method="",
        )
    assert exc.value.errors == {
        "consent": "Confirm that the patient agreed to receive payment texts."
    }
    session.refresh(bob)
    assert bob.mobile_e164 == "" and bob.sms_consent_at is None

    svc.update_mobile(
        session,
        practice_id=a.id,
        patient_id=bob.id,
        clinician_id=doc.id,
        mobile_text="(617) 555-0177",
        consent_given=True,
        consent_method="Verbally, in session",
    )
    session.flush()
    saved = session.get(Patient, bob.id)
    assert saved.mobile_e164 == "+16175550177"
    assert saved.sms_consent_at is not None
    assert saved.sms_consent_method == "Verbally, in session"
    assert saved.sms_consent_by_clinician_id == doc.id


def test_invalid_mobile_saves_nothing(session: Session, world) -> None:
    a, _b, doc, ann, _bob, _other = world
    with pytest.raises(FieldErrors) as exc:
        svc.update_mobile(
            session,
            practice_id=a.id,
            patient_id=ann.id,
            clinician_id=doc.id,
            mobile_text="555-12",
            consent_given=True,
            consent_method="Verbally, in session",
        )
    assert "mobile" in exc.value.errors
    session.refresh(ann)
    assert ann.mobile_e164 == "+16175550101"


def test_same_number_in_another_format_needs_no_new_consent(session: Session, world) -> None:
    a, _b, doc, ann, _bob, _other = world
    before = ann.sms_consent_at
    svc.update_mobile(
        session,
        practice_id=a.id,
        patient_id=ann.id,
        clinician_id=doc.id,
        mobile_text="617-555-0101",
        consent_given=False,
        consent_method="",
    )
    assert ann.sms_consent_at == before


def test_cannot_edit_another_practices_patient(session: Session, world) -> None:
    a, _b, doc, _ann, _bob, other = world
    with pytest.raises(NotFoundError):
        svc.update_mobile(
            session,
            practice_id=a.id,
            patient_id=other.id,
            clinician_id=doc.id,
            mobile_text="(617) 555-0177",
            consent_given=True,
            consent_method="Verbally, in session",
        )
