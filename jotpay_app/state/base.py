"""Login state. Every page state subclasses AuthState, so each handler can ask who is in."""

from __future__ import annotations

import reflex as rx

from jotpay_app.services import auth
from jotpay_app.services.db import session_scope
from jotpay_app.settings import get_settings

LOGIN_ROUTE = "/login"
HOME_ROUTE = "/patients"


class AuthState(rx.State):
    # Opaque token; the server keeps only its hash. Strict same-site: never sent cross-site.
    auth_token: str = rx.Cookie("", name="jotpay_session", same_site="strict")
    clinician_name: str = ""
    clinician_email: str = ""
    practice_name: str = ""

    login_email: str = ""
    login_password: str = ""
    login_error: str = ""
    logging_in: bool = False

    def identity(self) -> auth.Identity | None:
        """Who is logged in, read from the database on every call (a logout elsewhere counts)."""
        with session_scope() as session:
            return auth.identity_for_token(session, self.auth_token)

    def require_identity(self) -> auth.Identity:
        who = self.identity()
        if who is None:
            raise PermissionError("not logged in")
        return who

    def _watch(self) -> None:
        """Ask for live refreshes of this state when the practice's requests change."""
        from jotpay_app import live

        who = self.identity()
        token = self.router.session.client_token
        if who is not None and token:
            live.registry().watch(who.practice_id, token, type(self).get_full_name())

    @rx.var
    def sandbox_outbox_url(self) -> str:
        return get_settings().sandbox_outbox_url

    @rx.var
    def account_initials(self) -> str:
        parts = [p for p in self.clinician_name.replace(".", " ").split() if p[:1].isupper()]
        letters = [p[0] for p in parts if p.lower() not in {"dr"}]
        return "".join(letters[:2]) or "?"

    @rx.event
    def require_login(self):
        """on_load guard of every signed-in page."""
        who = self.identity()
        if who is None:
            self.clinician_name = ""
            return rx.redirect(LOGIN_ROUTE, replace=True)
        self.clinician_name = who.clinician_name
        self.clinician_email = who.email
        self.practice_name = who.practice_name
        return None

    @rx.event
    def enter(self):
        """The bare URL: to the patients list, or to the login page."""
        return rx.redirect(HOME_ROUTE if self.identity() else LOGIN_ROUTE, replace=True)

    @rx.event
    def redirect_if_logged_in(self):
        if self.identity() is not None:
            return rx.redirect(HOME_ROUTE, replace=True)
        return None

    @rx.event
    def set_login_email(self, value: str) -> None:
        self.login_email = value

    @rx.event
    def set_login_password(self, value: str) -> None:
        self.login_password = value

    @rx.event
    def log_in(self, form: dict | None = None):
        form = form or {}
        email = str(form.get("email", self.login_email)).strip()
        password = str(form.get("password", self.login_password))
        self.login_error = ""
        if not email or not password:
            self.login_error = "Enter your email and password."
            return None
        try:
            with session_scope() as session:
                clinician = auth.authenticate(session, email, password)
                token = auth.start_session(
                    session, clinician.id or 0, days=get_settings().session_days
                )
        except auth.LoginError as exc:
            self.login_error = str(exc)
            self.login_password = ""
            return None
        self.auth_token = token
        self.login_password = ""
        return rx.redirect(HOME_ROUTE, replace=True)

    @rx.event
    def log_out(self):
        if self.auth_token:
            with session_scope() as session:
                auth.end_session(session, self.auth_token)
        self.auth_token = ""
        self.clinician_name = ""
        return rx.redirect(LOGIN_ROUTE, replace=True)
