"""Schedule: the calendar and the session details dialog."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.calendar import calendar_grid
from jotpay_app.components.layout import card, page_shell
from jotpay_app.components.request_form import request_payment_dialog
from jotpay_app.components.status_badge import status_badge
from jotpay_app.state.request_form import RequestFormState
from jotpay_app.state.schedule import ScheduleState as S


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left"),
                on_click=S.previous,
                variant="soft",
                id="calendar-prev",
                aria_label="Previous",
            ),
            rx.button("Today", on_click=S.today, variant="soft", id="calendar-today"),
            rx.icon_button(
                rx.icon("chevron-right"),
                on_click=S.next,
                variant="soft",
                id="calendar-next",
                aria_label="Next",
            ),
            rx.heading(S.title, size="5", id="calendar-title", as_="h2", margin_left="0.5rem"),
            align="center",
        ),
        rx.segmented_control.root(
            rx.segmented_control.item("Week", value="week"),
            rx.segmented_control.item("Day", value="day"),
            value=S.view,
            on_change=S.set_view,
            id="calendar-view",
            aria_label="Calendar view",
        ),
        justify="between",
        align="center",
        width="100%",
        margin_bottom="1rem",
        wrap="wrap",
    )


def detail(label: str, value: rx.Var | rx.Component, element_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, color_scheme="gray", size="2", width="8rem"),
        rx.text(value, id=element_id, size="2"),
        width="100%",
    )


def payment_line() -> rx.Component:
    """The appointment's payment: its live status, or Request Payment when none is open."""
    d = S.details
    return rx.hstack(
        rx.text("Payment", color_scheme="gray", size="2", width="8rem"),
        rx.cond(
            d.request_id > 0,
            rx.hstack(
                rx.box(
                    status_badge(d.request_status, d.request_status_label),
                    id="details-request-status",
                    data_status=d.request_status,
                ),
                rx.text(d.request_amount, size="2"),
                align="center",
            ),
        ),
        rx.cond(
            d.request_open,
            rx.link(
                rx.button("View request", size="1", variant="soft"),
                href="/patients/" + d.patient_id.to_string(),
                id="details-view-request",
            ),
            rx.button(
                rx.icon("badge-dollar-sign", size=14),
                "Request Payment",
                size="2",
                id="details-request-payment",
                loading=RequestFormState.redirecting,
                on_click=[
                    S.set_details_open(False),
                    RequestFormState.open_for_patient(d.patient_id, d.id, 0),
                ],
            ),
        ),
        align="center",
        width="100%",
        wrap="wrap",
    )


def session_details_dialog() -> rx.Component:
    d = S.details
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Session details"),
            rx.cond(
                S.details_error != "",
                rx.callout(S.details_error, color_scheme="red", icon="circle-alert"),
                rx.vstack(
                    rx.hstack(
                        rx.text("Patient / Client", color_scheme="gray", size="2", width="8rem"),
                        rx.link(
                            d.patient_name,
                            href="/patients/" + d.patient_id.to_string(),
                            id="details-patient-link",
                            size="2",
                        ),
                        width="100%",
                    ),
                    detail("Date", d.date, "details-date"),
                    detail("Time", d.time, "details-time"),
                    detail(
                        "Session type",
                        d.session_type + " (" + d.session_code + ")",
                        "details-session-type",
                    ),
                    detail("Clinician", d.clinician_name, "details-clinician"),
                    detail("Session fee", d.fee, "details-fee"),
                    detail("Status", d.status, "details-status"),
                    payment_line(),
                    rx.divider(),
                    rx.cond(
                        d.status == "Canceled",
                        rx.text("Canceled session: no note needed.", color_scheme="gray", size="2"),
                    ),
                    rx.cond(
                        (d.note_id == 0) & (d.status == "Canceled"),
                        rx.fragment(),
                        rx.cond(
                            d.note_id > 0,
                            rx.box(
                                rx.text("Note", weight="bold", size="2"),
                                rx.text(
                                    d.note_content,
                                    white_space="pre-wrap",
                                    size="2",
                                    id="details-note",
                                ),
                                max_height="14rem",
                                overflow_y="auto",
                                width="100%",
                            ),
                            rx.hstack(
                                rx.text("No note yet.", color_scheme="gray", size="2"),
                                rx.link(
                                    rx.button(
                                        rx.icon("notebook-pen", size=14),
                                        "Write note",
                                        variant="soft",
                                        size="1",
                                    ),
                                    href="/notes?appointment=" + d.id.to_string(),
                                    id="details-write-note",
                                ),
                                align="center",
                            ),
                        ),
                    ),
                    spacing="2",
                    width="100%",
                    id="session-details",
                ),
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Close", variant="soft", color_scheme="gray", id="details-close")
                ),
                justify="end",
                margin_top="1rem",
            ),
            max_width="520px",
        ),
        open=S.details_open,
        on_open_change=S.set_details_open,
    )


def schedule_page() -> rx.Component:
    return page_shell(
        toolbar(),
        card(
            rx.cond(
                S.appointments.length() == 0,
                rx.text(
                    "No appointments in this period.",
                    color_scheme="gray",
                    size="2",
                    id="calendar-empty",
                    margin_bottom="0.5rem",
                ),
            ),
            calendar_grid(),
        ),
        session_details_dialog(),
        request_payment_dialog(),
        title="Schedule",
    )
