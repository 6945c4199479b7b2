"""Patients / Clients: searchable list."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import page_shell
from jotpay_app.services.patients import PatientListRow
from jotpay_app.state.patients import PatientListState


def patient_row(row: rx.Var[PatientListRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(
                row.name, href=f"/patients/{row.id}", id=f"patient-link-{row.id}", weight="medium"
            ),
        ),
        rx.table.cell(
            rx.cond(
                row.mobile != "",
                row.mobile,
                rx.text("No mobile number", color_scheme="gray", size="2"),
            )
        ),
        rx.table.cell(row.email),
        rx.table.cell(row.next_appointment),
    )


def patients_page() -> rx.Component:
    return page_shell(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Search by name, email or phone",
                value=PatientListState.query,
                on_change=PatientListState.set_query.debounce(250),
                id="patient-search",
                aria_label="Search patients",
                width="min(420px, 100%)",
                size="3",
            ),
            rx.text(PatientListState.rows.length(), " patients", color_scheme="gray", size="2"),
            align="center",
            justify="between",
            margin_bottom="1rem",
        ),
        rx.cond(
            PatientListState.rows.length() > 0,
            rx.card(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Mobile"),
                            rx.table.column_header_cell("Email"),
                            rx.table.column_header_cell("Next appointment"),
                        )
                    ),
                    rx.table.body(rx.foreach(PatientListState.rows, patient_row)),
                    id="patient-table",
                    width="100%",
                ),
                size="1",
            ),
            rx.cond(
                PatientListState.loaded,
                rx.callout(
                    "No patients match your search.",
                    icon="search-x",
                    id="patients-empty",
                ),
                rx.center(rx.spinner(size="3"), padding="3rem"),
            ),
        ),
        title="Patients / Clients",
    )
