"""Notes: generate a session note from a few fields."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.action_card import payment_action_card
from jotpay_app.components.layout import card, page_shell
from jotpay_app.services.notes import NoteCandidate
from jotpay_app.state.notes import NotesState as S


def text_field(label: str, name: str, value: rx.Var, on_change, placeholder: str) -> rx.Component:
    error = S.errors.get(name, "")
    return rx.vstack(
        rx.el.label(label, html_for=f"note-{name}", font_weight="500"),
        rx.text_area(
            id=f"note-{name}",
            value=value,
            on_change=on_change,
            placeholder=placeholder,
            rows="3",
            width="100%",
            aria_invalid=rx.cond(error != "", "true", "false"),
        ),
        rx.cond(
            error != "",
            rx.text(error, color_scheme="red", size="2", id=f"note-{name}-error", role="alert"),
        ),
        spacing="1",
        width="100%",
    )


def candidate_option(c: rx.Var[NoteCandidate]) -> rx.Component:
    return rx.el.option(
        rx.cond(c.has_note, c.label + " (has a note)", c.label), value=c.id.to_string()
    )


def note_form() -> rx.Component:
    appointment_error = S.errors.get("appointment", "")
    return card(
        rx.form(
            rx.vstack(
                rx.el.label("Session", html_for="note-appointment", font_weight="500"),
                rx.el.select(
                    rx.el.option("Choose a session…", value=""),
                    rx.foreach(S.candidates, candidate_option),
                    id="note-appointment",
                    value=S.appointment_id,
                    on_change=S.set_appointment_id,
                    style={
                        "padding": "0.5rem",
                        "border-radius": "6px",
                        "width": "100%",
                        "border": "1px solid var(--gray-7)",
                        "background": "var(--color-panel)",
                    },
                ),
                rx.cond(
                    appointment_error != "",
                    rx.text(
                        appointment_error,
                        color_scheme="red",
                        size="2",
                        id="note-appointment-error",
                        role="alert",
                    ),
                ),
                text_field(
                    "What the patient reported (S)",
                    "subjective",
                    S.subjective,
                    S.set_subjective,
                    "e.g. Reports better sleep; work stress still high.",
                ),
                text_field(
                    "What you observed (O)",
                    "objective",
                    S.objective,
                    S.set_objective,
                    "e.g. Alert, engaged, affect congruent.",
                ),
                text_field(
                    "Assessment (A)",
                    "assessment",
                    S.assessment,
                    S.set_assessment,
                    "e.g. Progressing toward goals.",
                ),
                text_field(
                    "Plan (P)", "plan", S.plan, S.set_plan, "e.g. Continue weekly sessions."
                ),
                rx.button(
                    rx.icon("sparkles", size=16),
                    "Generate note",
                    type="submit",
                    id="generate-note",
                    loading=S.generating,
                    size="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=lambda _form: S.generate(),
        ),
    )


def generated_note() -> rx.Component:
    return rx.vstack(
        payment_action_card(),
        rx.cond(
            S.generated_note_id > 0,
            card(
                rx.hstack(
                    rx.icon("circle-check", color=rx.color("green", 10)),
                    rx.heading("Note generated", size="4", as_="h2"),
                    rx.text("for ", S.generated_patient, color_scheme="gray", size="2"),
                    align="center",
                ),
                rx.text(
                    S.generated_content,
                    white_space="pre-wrap",
                    size="2",
                    id="generated-note",
                    margin_top="0.75rem",
                ),
                id="generated-note-card",
            ),
        ),
        spacing="4",
        width="100%",
    )


def notes_page() -> rx.Component:
    return page_shell(
        rx.grid(
            note_form(),
            generated_note(),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        title="Notes",
    )
