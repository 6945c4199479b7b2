"""Payment Settings: the logged-in clinician's own requests, paged, sorted and filtered in
the database; totals and chart; the detail panel with its timeline and actions."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from urllib.parse import urlencode

import reflex as rx

from jotpay_app.live import live_state
from jotpay_app.models import Practice
from jotpay_app.services import actions, connect, dashboard, reminders, sms_caps
from jotpay_app.services.auth import Identity
from jotpay_app.services.db import get_engine, session_scope
from jotpay_app.services.errors import FieldErrors, NotFoundError
from jotpay_app.services.money import format_cents
from jotpay_app.services.payments import RequestRow
from jotpay_app.services.sms import SmsGateway
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.services.timefmt import local_today
from jotpay_app.settings import get_settings
from jotpay_app.state.base import AuthState
from jotpay_app.state.request_fields import toast

PAGE_SIZE = 25
SORTABLE = {
    "Patient / Client": "patient",
    "Amount": "amount",
    "Reason": "reason",
    "Sent": "sent",
    "Due": "due",
    "Status": "status",
    "Paid": "paid",
    "Fee": "fee",
    "Net": "net",
}


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _resend_limits(tz: str):
    def can_text_now(session, patient_id: int, now: dt.datetime) -> str | None:
        return sms_caps.blocked_reason(session, patient_id, tz, now, kind="resend")

    return can_text_now


@live_state
class PaymentSettingsState(AuthState):
    rows: list[RequestRow] = []
    total: int = 0
    page: int = 1
    page_count: int = 1
    sort: str = "sent"
    direction: str = "desc"
    status_filter: str = "all"
    start: str = ""
    end: str = ""
    search: str = ""
    query_error: str = ""
    highlight: list[int] = []

    totals_label: str = ""
    totals: dict[str, str] = {}
    overdue_count: int = 0
    chart: list[dict[str, str | int | float]] = []

    # Stripe account panel
    stripe_ready: bool = False
    stripe_has_account: bool = False
    stripe_payouts: bool = False
    stripe_missing: list[str] = []
    opening_dashboard: bool = False

    # Detail panel
    detail_open: bool = False
    detail: RequestRow | None = None
    timeline: list[dashboard.TimelineEntry] = []
    busy: str = ""  # which action is running: "resend", "cancel", "refund", "remind"
    confirm_cancel: bool = False
    refund_open: bool = False
    refund_amount: str = ""
    refund_error: str = ""
    refund_key: str = ""
    reminder_message: str = ""

    # Practice settings (reminder cadence)
    reminder_days: str = ""
    reminder_hour: str = ""
    max_reminders: str = ""
    settings_errors: dict[str, str] = {}

    @rx.var
    def status_options(self) -> list[list[str]]:
        return [
            ["all", "All statuses"],
            *[[k, v] for k, v in dashboard.DashboardOptions().status_filters],
        ]

    @rx.var
    def export_url(self) -> str:
        query = {
            "sort": self.sort,
            "direction": self.direction,
            "status": self.status_filter,
            "start": self.start,
            "end": self.end,
            "search": self.search,
        }
        return f"{rx.config.get_config().api_url}/api/requests.csv?{urlencode(query)}"

    @rx.var
    def backend_url(self) -> str:
        return rx.config.get_config().api_url

    # -- loading -----------------------------------------------------------------------
    def _query(self, who: Identity) -> dashboard.RequestQuery:
        statuses = () if self.status_filter == "all" else (self.status_filter,)
        return dashboard.RequestQuery(
            clinician_id=who.clinician_id,
            tz=who.practice_timezone,
            page=self.page,
            page_size=PAGE_SIZE,
            sort=self.sort,
            direction=self.direction,
            statuses=statuses,
            start=_date_or_none(self.start),
            end=_date_or_none(self.end),
            search=self.search,
        )

    def _load_rows(self, who: Identity) -> None:
        try:
            with session_scope() as session:
                page = dashboard.query_requests(session, self._query(who))
        except dashboard.QueryError as exc:
            self.query_error = str(exc)
            return
        self.query_error = ""
        self.rows = page.rows
        self.total = page.total
        self.page = page.page
        self.page_count = page.page_count

    def _load_summary(self, who: Identity) -> None:
        today = local_today(who.practice_timezone)
        start = _date_or_none(self.start) or today.replace(day=1)
        end = _date_or_none(self.end) or today
        with session_scope() as session:
            totals = dashboard.totals(
                session, who.clinician_id, who.practice_timezone, start, end, today=today
            )
            weeks = dashboard.weekly_collected(
                session, who.clinician_id, who.practice_timezone, today=today
            )
            status = connect.status_of(connect.account_for(session, who.clinician_id))
            practice = session.get(Practice, who.practice_id)
        self.totals_label = (
            "This month"
            if not (self.start or self.end)
            else f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
        )
        self.totals = totals.formatted
        self.overdue_count = totals.overdue_count
        self.chart = [{"week": p.label, "collected": p.cents / 100} for p in weeks]
        self.stripe_ready = status.ready
        self.stripe_has_account = status.has_account
        self.stripe_payouts = status.payouts_enabled
        self.stripe_missing = list(status.missing)
        if practice is not None:
            self.reminder_days = practice.reminder_days
            self.reminder_hour = str(practice.reminder_hour)
            self.max_reminders = str(practice.max_reminders)

    def _refresh_detail(self, who: Identity) -> None:
        if not (self.detail_open and self.detail):
            return
        request_id = self.detail.id
        # The row's new values when it is on this page; otherwise the panel keeps its own.
        self.detail = next((r for r in self.rows if r.id == request_id), self.detail)
        with session_scope() as session:
            try:
                self.timeline = dashboard.timeline(
                    session, who.clinician_id, request_id, who.practice_timezone
                )
            except NotFoundError:
                self.detail_open = False

    @rx.event
    def load(self) -> None:
        who = self.identity()
        if who is None:
            return
        self.page = 1
        self.detail_open = False
        self._load_rows(who)
        self._load_summary(who)
        self._watch()

    def _live_refresh(self, request_ids: frozenset[int]) -> None:
        """Same page, same filters: values change under the clinician, nothing jumps."""
        who = self.identity()
        if who is None:
            return
        self._load_rows(who)
        self._load_summary(who)
        self.highlight = [r.id for r in self.rows if r.id in request_ids]
        self._refresh_detail(who)

    def _reload(self) -> None:
        who = self.identity()
        if who is not None:
            self._load_rows(who)

    # -- table controls ------------------------------------------------------------------
    @rx.event
    def sort_by(self, label: str) -> None:
        column = SORTABLE.get(label, "sent")
        if self.sort == column:
            self.direction = "asc" if self.direction == "desc" else "desc"
        else:
            self.sort, self.direction = column, "asc" if column in ("patient", "reason") else "desc"
        self.page = 1
        self._reload()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value
        self.page = 1
        self._reload()

    @rx.event
    def set_search(self, value: str) -> None:
        self.search = value
        self.page = 1
        self._reload()

    @rx.event
    def set_start(self, value: str) -> None:
        self.start = value
        self.page = 1
        self.load_after_range()

    @rx.event
    def set_end(self, value: str) -> None:
        self.end = value
        self.page = 1
        self.load_after_range()

    def load_after_range(self) -> None:
        who = self.identity()
        if who is not None:
            self._load_rows(who)
            self._load_summary(who)

    @rx.event
    def clear_filters(self) -> None:
        self.status_filter, self.start, self.end, self.search = "all", "", "", ""
        self.page = 1
        self.load_after_range()

    @rx.event
    def next_page(self) -> None:
        if self.page < self.page_count:
            self.page += 1
            self._reload()

    @rx.event
    def previous_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            self._reload()

    # -- detail panel --------------------------------------------------------------------
    @rx.event
    def open_detail(self, request_id: int) -> None:
        who = self.identity()
        if who is None:
            return
        row = next((r for r in self.rows if r.id == int(request_id)), None)
        if row is None:
            return
        self.detail = row
        self.detail_open = True
        self.confirm_cancel = False
        self.refund_open = False
        self.reminder_message = ""
        with session_scope() as session:
            self.timeline = dashboard.timeline(
                session, who.clinician_id, row.id, who.practice_timezone
            )

    @rx.event
    def set_detail_open(self, value: bool) -> None:
        self.detail_open = value

    @rx.event
    def copy_link(self):
        who = self.identity()
        if who is None or self.detail is None:
            return None
        with session_scope() as session:
            url = actions.pay_url_for(session, who, self.detail.id, get_settings().public_base_url)
        return [rx.set_clipboard(url), rx.toast.success("Pay link copied.")]

    async def _run(self, name: str, work):
        """Run an action off the event loop with the panel's busy flag; returns its result
        or the error message."""
        async with self:
            if self.busy:
                return None, "Another action is still running."
            who = self.identity()
            if who is None or self.detail is None:
                return None, "Log in again."
            self.busy = name
            request_id = self.detail.id
        try:
            return await asyncio.to_thread(work, who, request_id), ""
        except FieldErrors as exc:
            return None, next(iter(exc.errors.values()))
        except (actions.ActionError, NotFoundError) as exc:
            return None, str(exc)
        finally:
            async with self:
                self.busy = ""

    @rx.event(background=True)
    async def resend(self):
        settings = get_settings()
        outcome, error = await self._run(
            "resend",
            lambda who, rid: actions.resend_request(
                get_engine(),
                who,
                rid,
                SmsGateway.from_settings(settings),
                settings.public_base_url,
                can_text_now=_resend_limits(who.practice_timezone),
            ),
        )
        yield rx.toast.error(error) if error else toast(outcome.level, outcome.message)

    @rx.event
    def ask_cancel(self) -> None:
        self.confirm_cancel = True

    @rx.event
    def keep_request(self) -> None:
        self.confirm_cancel = False

    @rx.event(background=True)
    async def cancel(self):
        outcome, error = await self._run(
            "cancel",
            lambda who, rid: actions.cancel_request(
                get_engine(), who, rid, StripeGateway.from_settings(get_settings())
            ),
        )
        async with self:
            self.confirm_cancel = False
        yield rx.toast.error(error) if error else toast(outcome.level, outcome.message)

    @rx.event
    def open_refund(self) -> None:
        if self.detail is None:
            return
        self.refund_open = True
        self.refund_error = ""
        self.refund_amount = format_cents(self.detail.refundable_cents).removeprefix("$")
        # One key per opened dialog: a double click on Confirm refunds once.
        self.refund_key = secrets.token_urlsafe(16)

    @rx.event
    def set_refund_open(self, value: bool) -> None:
        self.refund_open = value

    @rx.event
    def set_refund_amount(self, value: str) -> None:
        self.refund_amount = value
        self.refund_error = ""

    @rx.event(background=True)
    async def refund(self):
        async with self:
            amount, key = self.refund_amount, self.refund_key

        def refund(who: Identity, rid: int) -> actions.RefundOutcome:
            stripe = StripeGateway.from_settings(get_settings())
            # A refund whose answer was lost (timeout) is asked again first, with its
            # original key: pressing Refund again is how the clinician retries it.
            actions.retry_pending_refunds(get_engine(), who, rid, stripe)
            return actions.refund_request(get_engine(), who, rid, amount, stripe, key)

        outcome, error = await self._run("refund", refund)
        async with self:
            if error:
                self.refund_error = error
            else:
                self.refund_open = False
        if not error:
            yield rx.toast.success(outcome.message)

    @rx.event(background=True)
    async def remind_now(self):
        settings = get_settings()
        outcome, error = await self._run(
            "remind",
            lambda who, rid: reminders.send_reminder_now(
                get_engine(),
                who.clinician_id,
                rid,
                SmsGateway.from_settings(settings),
                settings.public_base_url,
            ),
        )
        async with self:
            self.reminder_message = error or outcome.message
        if error or not outcome.sent:
            yield rx.toast.warning(error or outcome.message)
        else:
            yield rx.toast.success(outcome.message)

    # -- Stripe --------------------------------------------------------------------------
    @rx.event(background=True)
    async def open_stripe_dashboard(self):
        async with self:
            who = self.identity()
            if who is None or self.opening_dashboard:
                return
            self.opening_dashboard = True

        def login_link() -> str:
            with session_scope() as session:
                return actions.stripe_dashboard_url(
                    session, who, StripeGateway.from_settings(get_settings())
                )

        try:
            url = await asyncio.to_thread(login_link)
        except actions.ActionError as exc:
            async with self:
                self.opening_dashboard = False
            yield rx.toast.error(str(exc))
            return
        async with self:
            self.opening_dashboard = False
        yield rx.redirect(url, is_external=True)

    @rx.event
    def continue_setup(self):
        from jotpay_app.state.request_form import RequestFormState

        return RequestFormState.start_onboarding("/payment-settings")

    # -- practice settings ---------------------------------------------------------------
    @rx.event
    def set_reminder_days(self, value: str) -> None:
        self.reminder_days = value

    @rx.event
    def set_reminder_hour(self, value: str) -> None:
        self.reminder_hour = value

    @rx.event
    def set_max_reminders(self, value: str) -> None:
        self.max_reminders = value

    @rx.event
    def save_practice_settings(self):
        who = self.identity()
        if who is None:
            return None
        try:
            with session_scope() as session:
                reminders.update_practice_reminders(
                    session,
                    who.practice_id,
                    days=self.reminder_days,
                    hour=self.reminder_hour,
                    max_reminders=self.max_reminders,
                )
        except FieldErrors as exc:
            self.settings_errors = exc.errors
            return None
        self.settings_errors = {}
        return rx.toast.success("Reminder settings saved for the practice.")
