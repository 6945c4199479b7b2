"""Notes: generate a session note for an appointment."""

from __future__ import annotations

import reflex as rx

from jotpay_app.services import notes as note_service
from jotpay_app.services.db import session_scope
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.state.action_card import ActionCardState
from jotpay_app.state.base import AuthState


class NotesState(AuthState):
    candidates: list[note_service.NoteCandidate] = []
    appointment_id: str = ""
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    errors: dict[str, str] = {}
    generating: bool = False
    generated_note_id: int = 0
    generated_content: str = ""
    generated_patient: str = ""

    @rx.event
    def load(self):
        who = self.identity()
        if who is None:
            return
        wanted = self.router.url.query_parameters.get("appointment", "")
        with session_scope() as session:
            self.candidates = note_service.note_candidates(
                session,
                who.practice_id,
                who.practice_timezone,
                include_id=int(wanted) if wanted.isdigit() else None,
            )
        if wanted.isdigit() and any(c.id == int(wanted) for c in self.candidates):
            self.appointment_id = wanted
        elif self.appointment_id and not any(
            str(c.id) == self.appointment_id for c in self.candidates
        ):
            self.appointment_id = ""
        self.generated_note_id = 0
        self.generated_content = ""
        self.errors = {}
        # Back from Stripe onboarding started on an action card: show that card again.
        note = self.router.url.query_parameters.get("note", "")
        if note.isdigit():
            return ActionCardState.show_for_note(int(note))
        return ActionCardState.hide

    @rx.event
    def set_appointment_id(self, value: str) -> None:
        self.appointment_id = value
        self.errors = {k: v for k, v in self.errors.items() if k != "appointment"}
        self.generated_note_id = 0
        self.generated_content = ""

    @rx.event
    def set_subjective(self, value: str) -> None:
        self.subjective = value

    @rx.event
    def set_objective(self, value: str) -> None:
        self.objective = value

    @rx.event
    def set_assessment(self, value: str) -> None:
        self.assessment = value

    @rx.event
    def set_plan(self, value: str) -> None:
        self.plan = value

    @rx.event
    def generate(self):
        who = self.identity()
        if who is None:
            return rx.redirect("/login")
        if not self.appointment_id.isdigit():
            self.errors = {"appointment": "Choose the session this note is for."}
            return None
        self.generating = True
        try:
            with session_scope() as session:
                note, event = note_service.generate_note(
                    session,
                    practice_id=who.practice_id,
                    clinician_id=who.clinician_id,
                    appointment_id=int(self.appointment_id),
                    data=note_service.NoteInput(
                        subjective=self.subjective,
                        objective=self.objective,
                        assessment=self.assessment,
                        plan=self.plan,
                    ),
                    tz=who.practice_timezone,
                )
                self.generated_note_id = event.note_id
                self.generated_content = note.content
        except FieldErrors as exc:
            self.errors = exc.errors
            return None
        except NotFoundError:
            self.errors = {"appointment": "This appointment no longer exists."}
            return None
        finally:
            self.generating = False
        self.errors = {}
        self.generated_patient = next(
            (c.patient_name for c in self.candidates if str(c.id) == self.appointment_id), ""
        )
        self.subjective = self.objective = self.assessment = self.plan = ""
        with session_scope() as session:
            self.candidates = note_service.note_candidates(
                session, who.practice_id, who.practice_timezone
            )
        # The moment a note is generated: the payment action card appears.
        return [
            rx.toast.success("Note generated and saved."),
            ActionCardState.show_for_note(self.generated_note_id),
        ]
