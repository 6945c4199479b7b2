"""The Request Payment form: amount, reason, due date (and mobile number when missing)."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import field_error
from jotpay_app.state.request_form import RequestFormState as F


def _label(text: str, html_for: str) -> rx.Component:
    return rx.el.label(text, html_for=html_for, font_weight="500", font_size="0.9rem")


def _invalid(name: str) -> rx.Var:
    return rx.cond(F.errors.get(name, "") != "", "true", "false")


def amount_field() -> rx.Component:
    return rx.vstack(
        _label("Amount", "request-amount"),
        rx.input(
            rx.input.slot("$"),
            id="request-amount",
            value=F.amount,
            on_change=F.set_amount,
            placeholder="0.00",
            input_mode="decimal",
            auto_complete="off",
            aria_invalid=_invalid("amount"),
            aria_describedby="request-amount-error request-fee",
            width="100%",
            size="3",
            auto_focus=True,
        ),
        field_error(F.errors.get("amount", ""), "request-amount-error"),
        rx.cond(
            F.fee_preview != "",
            rx.text(F.fee_preview, size="1", color_scheme="gray", id="request-fee"),
        ),
        spacing="1",
        width="100%",
    )


def reason_field() -> rx.Component:
    return rx.vstack(
        _label("Reason for payment", "request-reason"),
        rx.hstack(
            rx.foreach(
                F.quick_reasons,
                lambda reason: rx.button(
                    reason,
                    type="button",
                    size="1",
                    radius="full",
                    variant=rx.cond(F.reason == reason, "solid", "soft"),
                    on_click=F.set_reason(reason),
                    class_name="quick-reason",
                ),
            ),
            wrap="wrap",
            spacing="1",
        ),
        rx.input(
            id="request-reason",
            value=F.reason,
            on_change=F.set_reason,
            placeholder="e.g. Session fee",
            max_length=200,
            aria_invalid=_invalid("reason"),
            aria_describedby="request-reason-error",
            width="100%",
        ),
        field_error(F.errors.get("reason", ""), "request-reason-error"),
        spacing="1",
        width="100%",
    )


def due_date_field() -> rx.Component:
    return rx.vstack(
        _label("Due date", "request-due"),
        rx.input(
            id="request-due",
            type="date",
            value=F.due_date,
            min=F.min_due_date,
            on_change=F.set_due_date,
            aria_invalid=_invalid("due_date"),
            aria_describedby="request-due-error",
            width="12rem",
        ),
        field_error(F.errors.get("due_date", ""), "request-due-error"),
        spacing="1",
        width="100%",
    )


def mobile_fields() -> rx.Component:
    return rx.cond(
        F.needs_mobile,
        rx.vstack(
            rx.callout(
                "Payment requests are sent by SMS. This patient has no mobile number: enter it "
                "here and it is saved to their profile.",
                icon="smartphone",
                size="1",
                width="100%",
            ),
            _label("Mobile number", "request-mobile"),
            rx.input(
                id="request-mobile",
                type="tel",
                value=F.mobile,
                on_change=F.set_mobile,
                placeholder="(617) 555-0142",
                aria_invalid=_invalid("mobile"),
                aria_describedby="request-mobile-error",
                width="100%",
            ),
            field_error(F.errors.get("mobile", ""), "request-mobile-error"),
            rx.el.label(
                rx.hstack(
                    rx.checkbox(
                        id="request-consent", checked=F.consent_given, on_change=F.set_consent_given
                    ),
                    rx.text(
                        "The patient agreed to receive payment texts at this number.", size="2"
                    ),
                    align="center",
                ),
            ),
            rx.select(
                F.consent_methods,
                placeholder="How did they agree?",
                value=F.consent_method,
                on_change=F.set_consent_method,
                id="request-consent-method",
                aria_label="How the patient agreed",
            ),
            field_error(F.errors.get("consent", ""), "request-consent-error"),
            spacing="2",
            width="100%",
        ),
    )


def request_form_fields() -> rx.Component:
    return rx.vstack(
        amount_field(),
        reason_field(),
        due_date_field(),
        mobile_fields(),
        spacing="4",
        width="100%",
    )


def request_payment_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Request Payment"),
            rx.dialog.description(
                "From ",
                rx.text.strong(F.patient_name),
                ". They get a text with a secure link to pay by card.",
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.cond(
                F.opted_out,
                rx.callout(
                    "This patient replied STOP to payment texts, so no request can be sent by "
                    "SMS. They can text START to allow them again.",
                    icon="ban",
                    color_scheme="red",
                    id="request-opted-out",
                    role="alert",
                ),
                rx.form(
                    request_form_fields(),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button(
                                "Cancel",
                                type="button",
                                variant="soft",
                                color_scheme="gray",
                                id="request-cancel",
                            )
                        ),
                        rx.button(
                            rx.icon("send", size=16),
                            "Send Request",
                            type="submit",
                            id="send-request",
                            loading=F.sending,
                            size="3",
                        ),
                        justify="end",
                        width="100%",
                        margin_top="1.25rem",
                    ),
                    on_submit=lambda _form: F.send_request(),
                    reset_on_submit=False,
                ),
            ),
            max_width="480px",
            id="request-dialog",
        ),
        open=F.is_open,
        on_open_change=F.set_open,
    )


def request_payment_button(patient_id: rx.Var[int], **props) -> rx.Component:
    return rx.button(
        rx.icon("badge-dollar-sign", size=16),
        "Request Payment",
        on_click=F.open_for_patient(patient_id, 0, 0),
        loading=F.redirecting,
        size="3",
        **props,
    )
