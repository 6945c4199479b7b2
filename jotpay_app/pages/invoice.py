"""View invoice (a page), with Download as PDF."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import page_shell
from jotpay_app.state.invoice import InvoiceState as S


def line(label: str, value: rx.Var, element_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, color_scheme="gray", width="10rem"),
        rx.text(value, id=element_id),
        width="100%",
    )


def invoice_page() -> rx.Component:
    i = S.invoice
    return page_shell(
        rx.cond(
            S.not_found,
            rx.callout("Invoice not found.", color_scheme="red", id="invoice-not-found"),
            rx.card(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Invoice ", i.number, size="6", id="invoice-number", as_="h1"),
                        rx.spacer(),
                        rx.link(
                            rx.button(rx.icon("download", size=14), "Download PDF"),
                            href=S.download_url,
                            id="invoice-download",
                        ),
                        width="100%",
                        align="center",
                    ),
                    line("Practice", i.practice, "invoice-practice"),
                    line("Clinician", i.clinician, "invoice-clinician"),
                    line("Patient / Client", i.patient, "invoice-patient"),
                    line("Date of service", i.date_of_service, "invoice-service-date"),
                    line("Issued", i.issued, "invoice-issued"),
                    line("Reason", i.reason, "invoice-reason"),
                    line("Amount", i.amount, "invoice-amount"),
                    line("Due", i.due, "invoice-due"),
                    line("Status", i.status_label, "invoice-status"),
                    rx.cond(
                        i.paid_on != "",
                        rx.vstack(
                            line("Paid on", i.paid_on, "invoice-paid-on"),
                            line("Processing fee", i.fee, "invoice-fee"),
                            line("Net payout", i.net, "invoice-net"),
                            width="100%",
                        ),
                    ),
                    rx.link("← Payment Settings", href="/payment-settings", size="2"),
                    spacing="3",
                    width="100%",
                ),
                max_width="640px",
            ),
        ),
    )
