"""The Request Payment form (shared by every entry point) and Stripe Connect onboarding."""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import urlencode

import reflex as rx

from jotpay_app.services import connect
from jotpay_app.services import requests as request_service
from jotpay_app.services.db import get_engine, session_scope
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.money import cents_to_input, fee_cents, format_cents, parse_dollars
from jotpay_app.services.patients import get_patient
from jotpay_app.services.sms import SmsGateway
from jotpay_app.services.stripe_gateway import StripeGateway, StripeGatewayError
from jotpay_app.services.timefmt import local_today
from jotpay_app.settings import get_settings
from jotpay_app.state.base import AuthState
from jotpay_app.state.request_fields import RequestFieldsMixin, send_with_settings, toast


def safe_next(path: str) -> str:
    """Only paths inside the app (never another site) are followed after onboarding."""
    return path if path.startswith("/") and not path.startswith("//") else "/payment-settings"


def onboarding_redirect(clinician_id: int, next_path: str) -> str:
    """A fresh Stripe onboarding link; once ready the clinician continues at `next_path`."""
    settings = get_settings()
    query = "?" + urlencode({"next": safe_next(next_path)})
    with session_scope() as session:
        return connect.onboarding_url(
            session,
            clinician_id,
            StripeGateway.from_settings(settings),
            return_url=f"{settings.app_base_url}/stripe/return{query}",
            refresh_url=f"{settings.app_base_url}/stripe/refresh{query}",
        )


class RequestFormState(RequestFieldsMixin, AuthState):
    is_open: bool = False
    patient_id: int = 0
    patient_name: str = ""
    appointment_id: int = 0
    note_id: int = 0
    min_due_date: str = ""
    needs_mobile: bool = False
    opted_out: bool = False
    sending: bool = False
    redirecting: bool = False
    # Bumped after each send so pages showing requests know to reload.
    sent_count: int = 0

    @rx.var
    def quick_reasons(self) -> list[str]:
        return list(request_service.QUICK_REASONS)

    @rx.var
    def fee_preview(self) -> str:
        """'Fee $1.75 · you receive $48.25' for a valid amount, else ''."""
        try:
            cents = parse_dollars(self.amount, max_cents=get_settings().max_request_cents)
        except ValueError:
            return ""
        fee = fee_cents(cents)
        return f"Processing fee {format_cents(fee)} · you receive {format_cents(cents - fee)}"

    def _reset_form(
        self,
        patient_id: int,
        name: str,
        tz: str,
        needs_mobile: bool,
        opted_out: bool,
        amount_cents: int | None,
        reason: str,
    ) -> None:
        today = local_today(tz)
        self.patient_id = patient_id
        self.patient_name = name
        self.amount = cents_to_input(amount_cents) if amount_cents else ""
        self.reason = reason
        self.due_date = (today + dt.timedelta(days=get_settings().default_due_days)).isoformat()
        self.min_due_date = today.isoformat()
        self.needs_mobile = needs_mobile
        self.opted_out = opted_out
        self._clear_mobile_fields()

    @rx.event
    def open_for_patient(self, patient_id: int, appointment_id: int = 0, note_id: int = 0):
        """Request Payment: onboarding first if Stripe is not set up, then the form."""
        who = self.identity()
        if who is None:
            return rx.redirect("/login")
        with session_scope() as session:
            try:
                patient = get_patient(session, who.practice_id, int(patient_id))
            except NotFoundError:
                return rx.toast.error("Patient not found.")
            ready = request_service.account_ready(session, who.clinician_id)
            fee = (
                request_service.session_fee_for_appointment(
                    session, who.practice_id, int(appointment_id)
                )
                if appointment_id
                else None
            )
            name, needs_mobile, opted_out = (
                patient.full_name,
                not patient.mobile_e164,
                patient.sms_opted_out,
            )
        if not ready:
            next_path = f"/patients/{int(patient_id)}?request=open"
            if appointment_id:
                next_path += f"&appointment={int(appointment_id)}"
            return RequestFormState.start_onboarding(next_path)
        self._reset_form(
            int(patient_id),
            name,
            who.practice_timezone,
            needs_mobile,
            opted_out,
            fee,
            "Session fee" if appointment_id else "",
        )
        self.appointment_id = int(appointment_id)
        self.note_id = int(note_id)
        self.is_open = True
        return None

    @rx.event(background=True)
    async def start_onboarding(self, next_path: str):
        async with self:
            if self.redirecting:
                return
            who = self.identity()
            if who is None:
                return
            self.redirecting = True
        try:
            url = await asyncio.to_thread(onboarding_redirect, who.clinician_id, next_path)
        except StripeGatewayError as exc:
            async with self:
                self.redirecting = False
            yield rx.toast.error(f"Could not reach Stripe: {exc}")
            return
        async with self:
            self.redirecting = False
        yield rx.redirect(url)

    @rx.event
    def set_open(self, value: bool) -> None:
        if not self.sending:
            self.is_open = value

    @rx.event(background=True)
    async def send_request(self):
        """Send Request. Guarded against double clicks here and, across tabs and retried
        events, by the server-side submit key."""
        async with self:
            if self.sending or self.opted_out:
                return
            who = self.identity()
            if who is None:
                return
            self.sending = True
            form = self._form()
            patient_id, appointment_id, note_id = self.patient_id, self.appointment_id, self.note_id
        try:
            outcome = await asyncio.to_thread(
                send_with_settings, who, form, patient_id, appointment_id, note_id
            )
        except FieldErrors as exc:
            async with self:
                self.errors = exc.errors
                self.sending = False
            return
        except NotFoundError:
            async with self:
                self.sending = False
            yield rx.toast.error("This patient or appointment no longer exists.")
            return
        async with self:
            self.sending = False
            self.is_open = False
            self.sent_count += 1
        from jotpay_app.state.patients import PatientProfileState

        yield PatientProfileState.reload
        yield toast(outcome.level, outcome.message)
        if outcome.status == "awaiting_setup":
            yield RequestFormState.start_onboarding(f"/patients/{patient_id}")


class ConnectState(AuthState):
    """/stripe/return and /stripe/refresh: where Stripe onboarding sends the clinician back."""

    checking: bool = True
    ready: bool = False
    missing: list[str] = []
    error: str = ""
    next_path: str = ""

    @rx.event(background=True)
    async def handle_return(self):
        async with self:
            who = self.identity()
            if who is None:
                yield rx.redirect("/login")
                return
            self.next_path = safe_next(self.router.url.query_parameters.get("next", ""))
            self.checking = True
            self.error = ""

        def refresh() -> tuple[connect.ConnectStatus, list[int]]:
            with session_scope() as session:
                status = connect.refresh_from_stripe(
                    session, who.clinician_id, StripeGateway.from_settings(get_settings())
                )
                released = (
                    request_service.release_awaiting_setup(session, who.clinician_id)
                    if status.ready
                    else []
                )
                return status, released

        try:
            status, released = await asyncio.to_thread(refresh)
        except StripeGatewayError as exc:
            async with self:
                self.checking = False
                self.error = f"Could not reach Stripe: {exc}"
            return
        settings = get_settings()
        for request_id in released:
            await asyncio.to_thread(
                request_service.deliver_request_sms,
                get_engine(),
                request_id,
                SmsGateway.from_settings(settings),
                public_base_url=settings.public_base_url,
            )
        async with self:
            self.checking = False
            self.ready = status.ready
            self.missing = list(status.missing)
            next_path = self.next_path
        if status.ready:
            yield rx.toast.success("Stripe is set up. You can request payments now.")
            yield rx.redirect(next_path, replace=True)

    @rx.event(background=True)
    async def handle_refresh(self):
        """The onboarding link expired or was used: make a fresh one and go back."""
        async with self:
            who = self.identity()
            if who is None:
                yield rx.redirect("/login")
                return
            next_path = safe_next(self.router.url.query_parameters.get("next", ""))
        try:
            url = await asyncio.to_thread(onboarding_redirect, who.clinician_id, next_path)
        except StripeGatewayError as exc:
            async with self:
                self.checking = False
                self.error = f"Could not reach Stripe: {exc}"
            return
        yield rx.redirect(url, replace=True)

    @rx.event
    def continue_setup(self):
        return RequestFormState.start_onboarding(self.next_path)
