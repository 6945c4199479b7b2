"""The Reflex app: pages, their on_load guards, and start-up work."""

from __future__ import annotations

import reflex as rx

from jotpay_app.api import create_api
from jotpay_app.live import live_lifespan
from jotpay_app.pages.invoice import invoice_page
from jotpay_app.pages.login import login_page
from jotpay_app.pages.notes import notes_page
from jotpay_app.pages.patient_detail import patient_detail_page
from jotpay_app.pages.patients import patients_page
from jotpay_app.pages.payment_settings import payment_settings_page
from jotpay_app.pages.schedule import schedule_page
from jotpay_app.pages.stripe_connect import stripe_return_page
from jotpay_app.scheduler import scheduler_lifespan
from jotpay_app.state.base import AuthState
from jotpay_app.state.invoice import InvoiceState
from jotpay_app.state.notes import NotesState
from jotpay_app.state.patients import PatientListState, PatientProfileState
from jotpay_app.state.payments import PaymentSettingsState
from jotpay_app.state.request_form import ConnectState
from jotpay_app.state.schedule import ScheduleState


def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), min_height="100vh")


app = rx.App(
    api_transformer=create_api(),
    head_components=[rx.el.meta(name="description", content="JotPay: patient payment requests")],
)

app.add_page(index, route="/", title="JotPay", on_load=AuthState.enter)
app.add_page(
    login_page, route="/login", title="Log in · JotPay", on_load=AuthState.redirect_if_logged_in
)
app.add_page(
    patients_page,
    route="/patients",
    title="Patients / Clients · JotPay",
    on_load=[AuthState.require_login, PatientListState.load],
)
app.add_page(
    patient_detail_page,
    route="/patients/[patient_id]",
    title="Patient · JotPay",
    on_load=[AuthState.require_login, PatientProfileState.load],
)
app.add_page(
    schedule_page,
    route="/schedule",
    title="Schedule · JotPay",
    on_load=[AuthState.require_login, ScheduleState.load],
)
app.add_page(
    notes_page,
    route="/notes",
    title="Notes · JotPay",
    on_load=[AuthState.require_login, NotesState.load],
)
app.add_page(
    payment_settings_page,
    route="/payment-settings",
    title="Payment Settings · JotPay",
    on_load=[AuthState.require_login, PaymentSettingsState.load],
)
app.add_page(
    invoice_page,
    route="/invoices/[request_id]",
    title="Invoice · JotPay",
    on_load=[AuthState.require_login, InvoiceState.load],
)
app.add_page(
    stripe_return_page,
    route="/stripe/return",
    title="Stripe setup · JotPay",
    on_load=[AuthState.require_login, ConnectState.handle_return],
)
app.add_page(
    stripe_return_page,
    route="/stripe/refresh",
    title="Stripe setup · JotPay",
    on_load=[AuthState.require_login, ConnectState.handle_refresh],
)

app.register_lifespan_task(scheduler_lifespan)
app.register_lifespan_task(live_lifespan)
