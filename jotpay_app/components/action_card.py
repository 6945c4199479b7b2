"""The payment action card shown after a note is generated."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import field_error
from jotpay_app.components.status_badge import status_badge
from jotpay_app.state.action_card import ActionCardState as A


def _summary() -> rx.Component:
    return rx.hstack(
        rx.text(A.amount_label, weight="bold", id="card-amount"),
        rx.text("·", color_scheme="gray"),
        rx.text(A.reason, id="card-reason"),
        rx.text("·", color_scheme="gray"),
        rx.text("due ", A.due_label, id="card-due"),
        spacing="2",
        wrap="wrap",
    )


def _editor() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.el.label("Amount", html_for="card-amount-input", font_size="0.85rem"),
                rx.input(
                    rx.input.slot("$"),
                    id="card-amount-input",
                    value=A.amount,
                    on_change=A.set_amount,
                    input_mode="decimal",
                    width="8rem",
                ),
                spacing="1",
            ),
            rx.vstack(
                rx.el.label(
                    "Reason for payment", html_for="card-reason-input", font_size="0.85rem"
                ),
                rx.input(
                    id="card-reason-input",
                    value=A.reason,
                    on_change=A.set_reason,
                    max_length=200,
                    width="14rem",
                ),
                spacing="1",
            ),
            rx.vstack(
                rx.el.label("Due date", html_for="card-due-input", font_size="0.85rem"),
                rx.input(
                    id="card-due-input", type="date", value=A.due_date, on_change=A.set_due_date
                ),
                spacing="1",
            ),
            wrap="wrap",
            spacing="3",
        ),
        field_error(A.errors.get("amount", ""), "card-amount-error"),
        field_error(A.errors.get("reason", ""), "card-reason-error"),
        field_error(A.errors.get("due_date", ""), "card-due-error"),
        spacing="2",
        width="100%",
    )


def _mobile() -> rx.Component:
    return rx.cond(
        A.needs_mobile,
        rx.vstack(
            rx.text("No mobile number on file: payment requests go out by SMS.", size="2"),
            rx.hstack(
                rx.input(
                    id="card-mobile",
                    type="tel",
                    value=A.mobile,
                    on_change=A.set_mobile,
                    placeholder="(617) 555-0142",
                    aria_label="Mobile number",
                ),
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(
                            id="card-consent",
                            checked=A.consent_given,
                            on_change=A.set_consent_given,
                        ),
                        rx.text("Patient agreed to payment texts", size="2"),
                        align="center",
                    ),
                ),
                rx.select(
                    A.consent_methods,
                    placeholder="How?",
                    value=A.consent_method,
                    on_change=A.set_consent_method,
                    id="card-consent-method",
                    aria_label="How the patient agreed",
                ),
                wrap="wrap",
                align="center",
            ),
            field_error(A.errors.get("mobile", ""), "card-mobile-error"),
            field_error(A.errors.get("consent", ""), "card-consent-error"),
            spacing="2",
            width="100%",
        ),
    )


def payment_action_card() -> rx.Component:
    return rx.cond(
        A.visible,
        rx.card(
            rx.hstack(
                rx.icon("badge-dollar-sign", color=rx.color("accent", 10)),
                rx.vstack(
                    rx.text(
                        "Request Payment from Patient / Client?",
                        weight="bold",
                        id="action-card-title",
                    ),
                    rx.text(A.patient_name, size="2", color_scheme="gray"),
                    spacing="0",
                ),
                rx.spacer(),
                rx.cond(
                    A.request_id > 0,
                    rx.hstack(
                        rx.text("Request sent", size="2", id="card-sent"),
                        rx.box(
                            status_badge(A.request_status, A.request_status_label),
                            id="card-status",
                            data_status=A.request_status,
                        ),
                        align="center",
                    ),
                    rx.hstack(
                        rx.icon_button(
                            rx.icon("check"),
                            on_click=A.submit,
                            disabled=~A.can_submit,
                            loading=A.submitting,
                            aria_label="Submit payment request",
                            id="card-submit",
                            color_scheme="green",
                        ),
                        rx.icon_button(
                            rx.icon("x"),
                            on_click=A.dismiss,
                            aria_label="Dismiss",
                            id="card-dismiss",
                            variant="soft",
                            color_scheme="gray",
                        ),
                    ),
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                A.request_id == 0,
                rx.vstack(
                    rx.cond(
                        A.editing,
                        _editor(),
                        rx.box(
                            _summary(),
                            rx.text("Click to edit", size="1", color_scheme="gray"),
                            on_click=A.start_editing,
                            cursor="pointer",
                            role="button",
                            tab_index=0,
                            id="card-body",
                            aria_label="Edit amount, reason and due date",
                        ),
                    ),
                    rx.cond(
                        A.opted_out,
                        rx.callout(
                            "This patient replied STOP to payment texts: no request "
                            "can be sent by SMS.",
                            color_scheme="red",
                            size="1",
                            id="card-opted-out",
                        ),
                        _mobile(),
                    ),
                    spacing="2",
                    width="100%",
                    margin_top="0.75rem",
                ),
                rx.box(_summary(), margin_top="0.5rem"),
            ),
            id="payment-action-card",
            width="100%",
            size="2",
            style={"border": "1px solid var(--accent-7)"},
        ),
    )
