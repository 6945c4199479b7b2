"""The fields of a payment request as a clinician edits them, shared by the Request
Payment form and the note's action card."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from jotpay_app.services.auth import Identity
from jotpay_app.services.db import get_engine
from jotpay_app.services.patients import CONSENT_METHODS
from jotpay_app.services.requests import RequestForm, SendOutcome, send_payment_request
from jotpay_app.services.sms import SmsGateway
from jotpay_app.settings import get_settings

_TOAST_BY_LEVEL = {
    "success": rx.toast.success,
    "info": rx.toast.info,
    "warning": rx.toast.warning,
    "error": rx.toast.error,
}


def toast(level: str, message: str) -> EventSpec:
    """A toast in the colour a service outcome's level asks for."""
    return _TOAST_BY_LEVEL.get(level, rx.toast.info)(message)


def send_with_settings(
    who: Identity, form: RequestForm, patient_id: int, appointment_id: int, note_id: int
) -> SendOutcome:
    """Send Request with this deployment's settings (blocking: run it in a thread)."""
    settings = get_settings()
    return send_payment_request(
        get_engine(),
        who,
        patient_id=patient_id,
        form=form,
        sms=SmsGateway.from_settings(settings),
        public_base_url=settings.public_base_url,
        max_cents=settings.max_request_cents,
        appointment_id=appointment_id or None,
        note_id=note_id or None,
    )


class RequestFieldsMixin(rx.State, mixin=True):
    amount: str = ""
    reason: str = ""
    due_date: str = ""
    mobile: str = ""
    consent_given: bool = False
    consent_method: str = ""
    errors: dict[str, str] = {}

    @rx.var
    def consent_methods(self) -> list[str]:
        return list(CONSENT_METHODS)

    def _clear_error(self, field: str) -> None:
        if field in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field}

    @rx.event
    def set_amount(self, value: str) -> None:
        self.amount = value
        self._clear_error("amount")

    @rx.event
    def set_reason(self, value: str) -> None:
        self.reason = value
        self._clear_error("reason")

    @rx.event
    def set_due_date(self, value: str) -> None:
        self.due_date = value
        self._clear_error("due_date")

    @rx.event
    def set_mobile(self, value: str) -> None:
        self.mobile = value
        self._clear_error("mobile")

    @rx.event
    def set_consent_given(self, value: bool) -> None:
        self.consent_given = bool(value)
        self._clear_error("consent")

    @rx.event
    def set_consent_method(self, value: str) -> None:
        self.consent_method = value
        self._clear_error("consent")

    def _form(self) -> RequestForm:
        return RequestForm(
            amount=self.amount,
            reason=self.reason,
            due_date=self.due_date,
            mobile=self.mobile,
            consent_given=self.consent_given,
            consent_method=self.consent_method,
        )

    def _clear_mobile_fields(self) -> None:
        self.mobile = ""
        self.consent_given = False
        self.consent_method = ""
        self.errors = {}
