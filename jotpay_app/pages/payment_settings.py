"""Payment Settings: the logged-in clinician's payment requests."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import page_shell
from jotpay_app.components.status_badge import status_badge
from jotpay_app.services.payments import RequestRow
from jotpay_app.state.payments import PaymentSettingsState as S

COLUMNS = (
    "Invoice",
    "Patient / Client",
    "Amount",
    "Reason",
    "Sent",
    "Due",
    "Status",
    "Paid",
    "Fee",
    "Net",
)


def request_row(row: rx.Var[RequestRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#" + row.invoice_number.to_string()),
        rx.table.row_header_cell(row.patient_name),
        rx.table.cell(row.amount),
        rx.table.cell(row.reason),
        rx.table.cell(row.created),
        rx.table.cell(row.due),
        rx.table.cell(status_badge(row.status, row.status_label)),
        rx.table.cell(row.paid),
        rx.table.cell(row.fee),
        rx.table.cell(row.net),
        id=f"request-row-{row.id}",
        data_status=row.status,
    )


def payment_settings_page() -> rx.Component:
    return page_shell(
        rx.text(
            "Every payment request you have sent, with its status. A processing fee of "
            "2.9% + $0.30 per payment is deducted from your payout.",
            color_scheme="gray",
            size="2",
            margin_bottom="1rem",
        ),
        rx.cond(
            S.total > 0,
            rx.vstack(
                rx.card(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(*[rx.table.column_header_cell(c) for c in COLUMNS])
                        ),
                        rx.table.body(rx.foreach(S.rows, request_row)),
                        id="requests-table",
                        width="100%",
                        size="1",
                    ),
                    size="1",
                    width="100%",
                    overflow_x="auto",
                ),
                rx.hstack(
                    rx.text(
                        "Page ",
                        S.page,
                        " of ",
                        S.page_count,
                        " · ",
                        S.total,
                        " requests",
                        size="2",
                        color_scheme="gray",
                        id="requests-page-info",
                    ),
                    rx.button(
                        "Previous",
                        on_click=S.previous_page,
                        disabled=S.page <= 1,
                        variant="soft",
                        size="1",
                        id="requests-prev",
                    ),
                    rx.button(
                        "Next",
                        on_click=S.next_page,
                        disabled=S.page >= S.page_count,
                        variant="soft",
                        size="1",
                        id="requests-next",
                    ),
                    align="center",
                    justify="end",
                    width="100%",
                ),
                width="100%",
            ),
            rx.callout(
                "No payment requests yet. Use Request Payment on a patient's profile, "
                "on an appointment in the Schedule, or after generating a note.",
                icon="inbox",
                id="requests-empty",
            ),
        ),
        title="Payment Settings",
    )
