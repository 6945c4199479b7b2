import datetime as dt
import hashlib

import pytest
from sqlmodel import Session, select

from jotpay_app.models import AuthSession
from jotpay_app.services import auth
from tests import factories


@pytest.fixture
def doctor(session: Session):
    p = factories.practice(session, "North Clinic")
    return factories.clinician(
        session, p.id, email="doc@example.com", password_hash=auth.hash_password("correct horse")
    )


def test_login_with_right_password(session: Session, doctor) -> None:
    assert auth.authenticate(session, "Doc@Example.com ", "correct horse").id == doctor.id


@pytest.mark.parametrize(
    ("email", "password"), [("doc@example.com", "wrong"), ("nobody@example.com", "correct horse")]
)
def test_wrong_email_or_password_gives_the_same_message(session: Session, doctor, email, password):
    with pytest.raises(auth.LoginError) as exc:
        auth.authenticate(session, email, password)
    assert str(exc.value) == "Email or password is incorrect"


def test_session_token_is_stored_hashed_and_resolves_identity(session: Session, doctor) -> None:
    token = auth.start_session(session, doctor.id)
    stored = session.exec(select(AuthSession)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    who = auth.identity_for_token(session, token)
    assert who is not None
    assert (who.clinician_id, who.practice_name) == (doctor.id, "North Clinic")
    assert auth.identity_for_token(session, token + "x") is None
    assert auth.identity_for_token(session, "") is None


def test_expired_and_ended_sessions_do_not_resolve(session: Session, doctor) -> None:
    token = auth.start_session(session, doctor.id)
    row = session.exec(select(AuthSession)).one()
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.add(row)
    session.flush()
    assert auth.identity_for_token(session, token) is None
    token2 = auth.start_session(session, doctor.id)
    auth.end_session(session, token2)
    session.flush()
    assert auth.identity_for_token(session, token2) is None
