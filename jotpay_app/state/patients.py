"""Patients / Clients: the searchable list and a patient's profile."""

from __future__ import annotations

import reflex as rx

from jotpay_app.live import live_state
from jotpay_app.services import patients as patient_service
from jotpay_app.services.db import session_scope
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.state.base import AuthState


def route_id(path: str, prefix: str) -> int:
    """'/patients/12' with prefix '/patients/' -> 12; 0 when it is not a positive number."""
    tail = path.removeprefix(prefix).strip("/").split("/")[0]
    return int(tail) if tail.isdigit() else 0


class PatientListState(AuthState):
    query: str = ""
    rows: list[patient_service.PatientListRow] = []
    loaded: bool = False

    def _load(self) -> None:
        who = self.identity()
        if who is None:
            return
        with session_scope() as session:
            self.rows = patient_service.search_patients(session, who.practice_id, self.query)
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self._load()

    @rx.event
    def set_query(self, value: str) -> None:
        self.query = value
        self._load()

    @rx.event
    def clear_query(self) -> None:
        self.query = ""
        self._load()


EMPTY_PROFILE = patient_service.PatientProfile(
    id=0,
    first_name="",
    last_name="",
    name="",
    email="",
    mobile_e164="",
    mobile_display="",
    date_of_birth="",
    sms_consent="",
    sms_opted_out=False,
    upcoming=[],
    past=[],
    notes=[],
    payments=[],
)


@live_state
class PatientProfileState(AuthState):
    profile: patient_service.PatientProfile = EMPTY_PROFILE
    not_found: bool = False
    loading: bool = True

    # Mobile number editor
    editing_mobile: bool = False
    mobile_input: str = ""
    consent_given: bool = False
    consent_method: str = ""
    mobile_error: str = ""
    consent_error: str = ""
    saving_mobile: bool = False
    retrying: list[int] = []

    @rx.var
    def consent_methods(self) -> list[str]:
        return list(patient_service.CONSENT_METHODS)

    @rx.var
    def mobile_changed(self) -> bool:
        """The consent question is asked only when the typed number differs from the stored one."""
        typed = self.mobile_input.strip()
        if not typed:
            return False
        try:
            from jotpay_app.services.phones import normalize_mobile

            return normalize_mobile(typed) != self.profile.mobile_e164
        except ValueError:
            return typed != self.profile.mobile_display

    def _patient_id(self) -> int:
        return route_id(self.router.url.path, "/patients/")

    def _reload(self, patient_id: int) -> None:
        who = self.identity()
        if who is None:
            return
        try:
            with session_scope() as session:
                self.profile = patient_service.patient_profile(
                    session,
                    who.practice_id,
                    patient_id,
                    who.practice_timezone,
                    viewer_clinician_id=who.clinician_id,
                )
            self.not_found = False
        except NotFoundError:
            self.profile = EMPTY_PROFILE
            self.not_found = True

    @rx.event
    def load(self):
        self.loading = True
        self.editing_mobile = False
        self._reset_mobile_errors()
        self._reload(self._patient_id())
        self.loading = False
        self._watch()
        # Back from Stripe onboarding: continue with the form for this patient.
        query = self.router.url.query_parameters
        if query.get("request") == "open" and not self.not_found:
            from jotpay_app.state.request_form import RequestFormState

            appointment = query.get("appointment", "")
            return RequestFormState.open_for_patient(
                self.profile.id, int(appointment) if appointment.isdigit() else 0, 0
            )
        return None

    def _live_refresh(self, request_ids: frozenset[int]) -> None:
        if self.profile.id and not self.not_found:
            self._reload(self.profile.id)

    @rx.event
    def reload(self) -> None:
        if self.profile.id:
            self._reload(self.profile.id)

    @rx.event(background=True)
    async def retry_sms(self, request_id: int):
        """Retry of an "SMS not sent" request, from its row in the payment history."""
        import asyncio

        from jotpay_app.services import requests as request_service
        from jotpay_app.services.db import get_engine
        from jotpay_app.services.sms import SmsGateway
        from jotpay_app.settings import get_settings

        async with self:
            who = self.identity()
            if who is None or request_id in self.retrying:
                return
            self.retrying = [*self.retrying, request_id]
        settings = get_settings()

        def retry() -> str:
            with session_scope() as session:
                request_service.retry_sms(
                    session, who, request_id, actor=f"clinician:{who.clinician_id}"
                )
            return request_service.deliver_request_sms(
                get_engine(),
                request_id,
                SmsGateway.from_settings(settings),
                public_base_url=settings.public_base_url,
            )

        try:
            status = await asyncio.to_thread(retry)
        except (FieldErrors, NotFoundError) as exc:
            message = next(iter(exc.errors.values())) if isinstance(exc, FieldErrors) else str(exc)
            async with self:
                self.retrying = [r for r in self.retrying if r != request_id]
            yield rx.toast.error(message)
            return
        async with self:
            self.retrying = [r for r in self.retrying if r != request_id]
            self._reload(self.profile.id)
        if status == "sent":
            yield rx.toast.success("Payment request sent by text message.")
        else:
            yield rx.toast.error("SMS still not sent. It will be retried automatically.")

    def _reset_mobile_errors(self) -> None:
        self.mobile_error = ""
        self.consent_error = ""

    @rx.event
    def start_edit_mobile(self) -> None:
        self.editing_mobile = True
        self.mobile_input = self.profile.mobile_display
        self.consent_given = False
        self.consent_method = ""
        self._reset_mobile_errors()

    @rx.event
    def cancel_edit_mobile(self) -> None:
        self.editing_mobile = False
        self._reset_mobile_errors()

    @rx.event
    def set_mobile_input(self, value: str) -> None:
        self.mobile_input = value
        self.mobile_error = ""

    @rx.event
    def set_consent_given(self, value: bool) -> None:
        self.consent_given = bool(value)
        self.consent_error = ""

    @rx.event
    def set_consent_method(self, value: str) -> None:
        self.consent_method = value
        self.consent_error = ""

    @rx.event
    def save_mobile(self):
        who = self.identity()
        if who is None:
            return rx.redirect("/login")
        self._reset_mobile_errors()
        self.saving_mobile = True
        try:
            with session_scope() as session:
                patient_service.update_mobile(
                    session,
                    practice_id=who.practice_id,
                    patient_id=self.profile.id,
                    clinician_id=who.clinician_id,
                    mobile_text=self.mobile_input,
                    consent_given=self.consent_given,
                    consent_method=self.consent_method,
                )
        except FieldErrors as exc:
            self.mobile_error = exc.errors.get("mobile", "")
            self.consent_error = exc.errors.get("consent", "") or exc.errors.get(
                "consent_method", ""
            )
            return None
        except NotFoundError:
            self.not_found = True
            return None
        finally:
            self.saving_mobile = False
        self.editing_mobile = False
        self._reload(self.profile.id)
        return rx.toast.success("Mobile number saved.")

    @rx.var
    def payments_count(self) -> int:
        return len(self.profile.payments)
