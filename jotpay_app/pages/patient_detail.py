"""A patient's profile: contact details, appointments, notes, payment history."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import card, field_error, page_shell
from jotpay_app.components.request_form import request_payment_button, request_payment_dialog
from jotpay_app.components.status_badge import status_badge
from jotpay_app.services.patients import AppointmentRow, NoteRow, PaymentRow
from jotpay_app.state.patients import PatientProfileState as S


def detail_line(label: str, value: rx.Component | rx.Var | str) -> rx.Component:
    return rx.hstack(
        rx.text(label, color_scheme="gray", size="2", width="9rem", flex_shrink="0"),
        rx.box(value),
        align="start",
        width="100%",
    )


def mobile_editor() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Mobile number", html_for="mobile-input", font_weight="500"),
            rx.input(
                id="mobile-input",
                value=S.mobile_input,
                on_change=S.set_mobile_input,
                placeholder="(617) 555-0142",
                type="tel",
                auto_complete="off",
                aria_invalid=rx.cond(S.mobile_error != "", "true", "false"),
                aria_describedby="mobile-error",
                width="min(320px, 100%)",
                auto_focus=True,
            ),
            field_error(S.mobile_error, "mobile-error"),
            rx.cond(
                S.mobile_changed,
                rx.vstack(
                    rx.el.label(
                        rx.hstack(
                            rx.checkbox(
                                id="consent-checkbox",
                                checked=S.consent_given,
                                on_change=S.set_consent_given,
                            ),
                            rx.text("The patient agreed to receive payment texts at this number."),
                            align="center",
                        ),
                    ),
                    rx.select(
                        S.consent_methods,
                        placeholder="How did they agree?",
                        value=S.consent_method,
                        on_change=S.set_consent_method,
                        id="consent-method",
                        aria_label="How the patient agreed",
                    ),
                    field_error(S.consent_error, "consent-error"),
                    spacing="2",
                ),
            ),
            rx.hstack(
                rx.button("Save", type="submit", id="save-mobile", loading=S.saving_mobile),
                rx.button(
                    "Cancel",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=S.cancel_edit_mobile,
                    id="cancel-mobile",
                ),
            ),
            spacing="2",
        ),
        on_submit=lambda _form: S.save_mobile(),
        reset_on_submit=False,
    )


def contact_card() -> rx.Component:
    return card(
        rx.heading("Contact details", size="4", margin_bottom="0.75rem", as_="h2"),
        rx.vstack(
            detail_line(
                "Mobile",
                rx.cond(
                    S.editing_mobile,
                    mobile_editor(),
                    rx.hstack(
                        rx.cond(
                            S.profile.mobile_display != "",
                            rx.text(S.profile.mobile_display, id="patient-mobile"),
                            rx.text("No mobile number", color_scheme="gray", id="patient-mobile"),
                        ),
                        rx.button(
                            rx.icon("pencil", size=14),
                            "Edit",
                            size="1",
                            variant="ghost",
                            on_click=S.start_edit_mobile,
                            id="edit-mobile",
                            aria_label="Edit mobile number",
                        ),
                        align="center",
                    ),
                ),
            ),
            rx.cond(
                S.profile.sms_consent != "",
                detail_line("Text consent", rx.text(S.profile.sms_consent, id="patient-consent")),
            ),
            rx.cond(
                S.profile.sms_opted_out,
                detail_line(
                    "Texts",
                    rx.badge(
                        "Opted out of texts (replied STOP)",
                        color_scheme="red",
                        id="patient-opted-out",
                    ),
                ),
            ),
            detail_line("Email", S.profile.email),
            detail_line("Date of birth", S.profile.date_of_birth),
            spacing="3",
            width="100%",
        ),
    )


def appointment_table(
    rows: rx.Var[list[AppointmentRow]], element_id: str, empty: str
) -> rx.Component:
    def row(appt: rx.Var[AppointmentRow]) -> rx.Component:
        return rx.table.row(
            rx.table.cell(appt.when),
            rx.table.cell(appt.session_type),
            rx.table.cell(appt.clinician),
            rx.table.cell(appt.status),
            rx.table.cell(rx.cond(appt.has_note, rx.badge("Note", color_scheme="green"), "")),
        )

    return rx.cond(
        rows.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("When", "Session type", "Clinician", "Status", "")
                    ]
                )
            ),
            rx.table.body(rx.foreach(rows, row)),
            id=element_id,
            size="1",
            width="100%",
        ),
        rx.text(empty, color_scheme="gray", size="2", id=f"{element_id}-empty"),
    )


def note_item(note: rx.Var[NoteRow]) -> rx.Component:
    return rx.box(
        rx.text(note.created, size="1", color_scheme="gray"),
        rx.text(note.content, white_space="pre-wrap", size="2"),
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        width="100%",
        class_name="patient-note",
    )


def payment_row(payment: rx.Var[PaymentRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(payment.created),
        rx.table.cell(payment.amount),
        rx.table.cell(payment.reason),
        rx.table.cell(payment.due),
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    status_badge(payment.status, payment.status_label),
                    rx.cond(
                        payment.retryable,
                        rx.button(
                            rx.icon("rotate-cw", size=12),
                            "Retry",
                            size="1",
                            variant="soft",
                            on_click=S.retry_sms(payment.id),
                            loading=S.retrying.contains(payment.id),
                            id=f"retry-sms-{payment.id}",
                            aria_label="Retry sending the text",
                        ),
                    ),
                    align="center",
                ),
                rx.cond(
                    payment.detail != "", rx.text(payment.detail, size="1", color_scheme="gray")
                ),
                spacing="1",
            ),
            class_name="payment-status",
        ),
        rx.table.cell(payment.clinician),
        id=f"patient-payment-{payment.id}",
        data_status=payment.status,
    )


def payments_section() -> rx.Component:
    return card(
        rx.heading("Payment history", size="4", margin_bottom="0.75rem", as_="h2"),
        rx.cond(
            S.payments_count > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Requested", "Amount", "Reason", "Due", "Status", "Clinician")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(S.profile.payments, payment_row)),
                id="patient-payments",
                size="1",
                width="100%",
            ),
            rx.text(
                "No payment requests yet.",
                color_scheme="gray",
                size="2",
                id="patient-payments-empty",
            ),
        ),
    )


def profile_body() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.link(
                    rx.hstack(rx.icon("arrow-left", size=14), "Patients / Clients"),
                    href="/patients",
                    size="2",
                ),
                rx.heading(S.profile.name, size="7", id="patient-name", as_="h1"),
                spacing="1",
            ),
            rx.spacer(),
            request_payment_button(S.profile.id, id="request-payment"),
            align="end",
            width="100%",
        ),
        rx.grid(
            contact_card(),
            card(
                rx.heading("Upcoming appointments", size="4", margin_bottom="0.75rem", as_="h2"),
                appointment_table(
                    S.profile.upcoming, "upcoming-appointments", "No upcoming appointments."
                ),
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        payments_section(),
        card(
            rx.heading("Past appointments", size="4", margin_bottom="0.75rem", as_="h2"),
            appointment_table(S.profile.past, "past-appointments", "No past appointments."),
        ),
        card(
            rx.heading("Notes", size="4", margin_bottom="0.75rem", as_="h2"),
            rx.cond(
                S.profile.notes.length() > 0,
                rx.vstack(rx.foreach(S.profile.notes, note_item), spacing="2", id="patient-notes"),
                rx.text("No notes yet.", color_scheme="gray", size="2", id="patient-notes-empty"),
            ),
        ),
        request_payment_dialog(),
        spacing="4",
        width="100%",
    )


def patient_detail_page() -> rx.Component:
    return page_shell(
        rx.cond(
            S.not_found,
            rx.callout(
                "Patient not found.",
                icon="circle-alert",
                color_scheme="red",
                id="patient-not-found",
            ),
            rx.cond(S.loading, rx.center(rx.spinner(size="3"), padding="3rem"), profile_body()),
        ),
    )
