"""The action card that appears right after a note is generated:
"Request Payment from Patient / Client?" — one tap when the prefill is right."""

from __future__ import annotations

import asyncio
import datetime as dt

import reflex as rx
from sqlmodel import select

from jotpay_app.live import live_state
from jotpay_app.models import Appointment, Note, Patient, PaymentRequest, utcnow
from jotpay_app.services import requests as request_service
from jotpay_app.services.db import session_scope
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.money import cents_to_input, format_cents, parse_dollars
from jotpay_app.services.patients import CONSENT_METHODS
from jotpay_app.services.payments import status_label
from jotpay_app.services.phones import PhoneError, normalize_mobile
from jotpay_app.services.timefmt import format_date, local_today
from jotpay_app.settings import get_settings
from jotpay_app.state.base import AuthState
from jotpay_app.state.request_fields import RequestFieldsMixin, send_with_settings, toast


@live_state
class ActionCardState(RequestFieldsMixin, AuthState):
    visible: bool = False
    editing: bool = False
    note_id: int = 0
    appointment_id: int = 0
    patient_id: int = 0
    patient_name: str = ""
    needs_mobile: bool = False
    opted_out: bool = False
    submitting: bool = False
    request_id: int = 0
    request_status: str = ""
    request_status_label: str = ""
    request_amount: str = ""

    @rx.var
    def amount_label(self) -> str:
        try:
            return format_cents(parse_dollars(self.amount, max_cents=10**12, min_cents=0))
        except ValueError:
            return self.amount

    @rx.var
    def due_label(self) -> str:
        try:
            return format_date(dt.date.fromisoformat(self.due_date))
        except ValueError:
            return self.due_date

    @rx.var
    def can_submit(self) -> bool:
        """The check mark works only when the request can go out."""
        if self.submitting or self.opted_out or self.request_id:
            return False
        if self.needs_mobile:
            try:
                normalize_mobile(self.mobile)
            except PhoneError:
                return False
            return self.consent_given and self.consent_method in CONSENT_METHODS
        return True

    def _load_for_note(self, note_id: int) -> bool:
        who = self.identity()
        if who is None:
            return False
        with session_scope() as session:
            row = session.exec(
                select(Note, Appointment, Patient)
                .join(Appointment, Appointment.id == Note.appointment_id)
                .join(Patient, Patient.id == Appointment.patient_id)
                .where(Note.id == note_id, Note.practice_id == who.practice_id)
            ).first()
            if row is None:
                return False
            note, appointment, patient = row
            fee = request_service.session_fee_for_appointment(
                session, who.practice_id, appointment.id or 0
            )
            existing = session.exec(
                select(PaymentRequest)
                .where(PaymentRequest.appointment_id == appointment.id)
                .order_by(PaymentRequest.id.desc())  # type: ignore[union-attr]
            ).first()
            self.note_id = note.id or 0
            self.appointment_id = appointment.id or 0
            self.patient_id = patient.id or 0
            self.patient_name = patient.full_name
            self.needs_mobile = not patient.mobile_e164
            self.opted_out = patient.sms_opted_out
            self.visible = note.action_card_dismissed_at is None or existing is not None
            self._show_request(existing)
        today = local_today(who.practice_timezone)
        self.amount = cents_to_input(fee or 0)
        self.reason = "Session fee"
        self.due_date = (today + dt.timedelta(days=get_settings().default_due_days)).isoformat()
        self._clear_mobile_fields()
        self.editing = False
        return True

    def _show_request(self, request: PaymentRequest | None) -> None:
        self.request_id = (request.id or 0) if request else 0
        self.request_status = request.status if request else ""
        self.request_status_label = status_label(request.status) if request else ""
        self.request_amount = format_cents(request.amount_cents) if request else ""

    @rx.event
    def show_for_note(self, note_id: int) -> None:
        """The moment a note is generated (NoteGenerated): offer to request payment."""
        if self._load_for_note(int(note_id)):
            self._watch()

    @rx.event
    def hide(self) -> None:
        self.visible = False

    def _live_refresh(self, request_ids: frozenset[int]) -> None:
        if not self.visible or not self.request_id:
            return
        with session_scope() as session:
            self._show_request(session.get(PaymentRequest, self.request_id))

    @rx.event
    def start_editing(self) -> None:
        if not self.request_id:
            self.editing = True

    @rx.event
    def dismiss(self) -> None:
        who = self.identity()
        if who is not None and self.note_id:
            with session_scope() as session:
                note = session.get(Note, self.note_id)
                if note is not None and note.practice_id == who.practice_id:
                    note.action_card_dismissed_at = utcnow()
                    session.add(note)
        self.visible = False

    @rx.event(background=True)
    async def submit(self):
        """The check mark. Without Stripe set up, the request is kept (awaiting setup)
        and goes out when the clinician comes back from onboarding."""
        async with self:
            if not self.can_submit:
                return
            who = self.identity()
            if who is None:
                return
            self.submitting = True
            form = self._form()
            patient_id, appointment_id, note_id = (
                self.patient_id,
                self.appointment_id,
                self.note_id,
            )
        try:
            outcome = await asyncio.to_thread(
                send_with_settings, who, form, patient_id, appointment_id, note_id
            )
        except FieldErrors as exc:
            async with self:
                self.errors = exc.errors
                self.editing = True
                self.submitting = False
            return
        except NotFoundError:
            async with self:
                self.submitting = False
            yield rx.toast.error("This appointment no longer exists.")
            return
        async with self:
            self.submitting = False
            self.editing = False
            with session_scope() as session:
                self._show_request(session.get(PaymentRequest, outcome.request_id))
        yield toast(outcome.level, outcome.message)
        if outcome.status == "awaiting_setup":
            from jotpay_app.state.request_form import RequestFormState

            yield RequestFormState.start_onboarding(f"/notes?note={note_id}")
