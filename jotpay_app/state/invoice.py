"""View invoice: one of the clinician's own requests as an invoice page."""

from __future__ import annotations

import dataclasses

import reflex as rx

from jotpay_app.services.db import session_scope
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.invoice_pdf import InvoiceData, invoice_data
from jotpay_app.state.base import AuthState
from jotpay_app.state.patients import route_id

EMPTY = InvoiceData(
    request_id=0,
    number="",
    practice="",
    clinician="",
    patient="",
    issued="",
    date_of_service="",
    reason="",
    amount="",
    status="",
    status_label="",
    due="",
)


class InvoiceState(AuthState):
    invoice: InvoiceData = EMPTY
    not_found: bool = False

    @rx.var
    def download_url(self) -> str:
        return f"{rx.config.get_config().api_url}/api/invoices/{self.invoice.request_id}.pdf"

    @rx.event
    def load(self) -> None:
        who = self.identity()
        if who is None:
            return
        try:
            with session_scope() as session:
                self.invoice = invoice_data(
                    session, who, route_id(self.router.url.path, "/invoices/")
                )
            self.not_found = False
        except NotFoundError:
            self.invoice = dataclasses.replace(EMPTY)
            self.not_found = True
