"""Clinician login: argon2 password hashes and opaque session tokens (stored hashed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from jotpay_app.models import AuthSession, Clinician, Practice, utcnow

_hasher = PasswordHasher()
# Verified against when the email is unknown, so timing does not reveal which is wrong.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

LOGIN_FAILED_MESSAGE = "Email or password is incorrect"


class LoginError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    """Who is logged in: what the UI and every scoped query need."""

    clinician_id: int
    practice_id: int
    clinician_name: str
    email: str
    practice_name: str
    practice_timezone: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, email: str, password: str) -> Clinician:
    clinician = session.exec(
        select(Clinician).where(Clinician.email == email.strip().lower())
    ).first()
    try:
        _hasher.verify(clinician.password_hash if clinician else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise LoginError(LOGIN_FAILED_MESSAGE) from None
    if clinician is None:
        raise LoginError(LOGIN_FAILED_MESSAGE)
    return clinician


def start_session(session: Session, clinician_id: int, *, days: int = 14) -> str:
    """Create a login session; returns the raw token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=_token_hash(token),
            clinician_id=clinician_id,
            expires_at=utcnow() + dt.timedelta(days=days),
        )
    )
    session.flush()
    return token


def identity_for_token(session: Session, token: str) -> Identity | None:
    if not token:
        return None
    row = session.exec(
        select(AuthSession, Clinician, Practice)
        .join(Clinician, Clinician.id == AuthSession.clinician_id)
        .join(Practice, Practice.id == Clinician.practice_id)
        .where(AuthSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    auth, clinician, practice = row
    if auth.expires_at <= utcnow():
        return None
    return Identity(
        clinician_id=clinician.id or 0,
        practice_id=practice.id or 0,
        clinician_name=clinician.full_name,
        email=clinician.email,
        practice_name=practice.name,
        practice_timezone=practice.timezone,
    )


def end_session(session: Session, token: str) -> None:
    row = session.exec(
        select(AuthSession).where(AuthSession.token_hash == _token_hash(token))
    ).first()
    if row is not None:
        session.delete(row)
