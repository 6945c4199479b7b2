"""Schedule: week/day calendar and the session details of a clicked appointment."""

from __future__ import annotations

import datetime as dt

import reflex as rx

from jotpay_app.live import live_state
from jotpay_app.services import schedule as schedule_service
from jotpay_app.services.db import session_scope
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.timefmt import local_today
from jotpay_app.state.base import AuthState

EMPTY_DETAILS = schedule_service.SessionDetails(
    id=0,
    patient_id=0,
    patient_name="",
    clinician_name="",
    date="",
    time="",
    session_type="",
    session_code="",
    fee="",
    fee_cents=0,
    status="",
    note_id=0,
    note_content="",
    request_id=0,
    request_status="",
    request_status_label="",
    request_amount="",
    request_open=False,
)


@live_state
class ScheduleState(AuthState):
    view: str = "week"  # "week" | "day"
    anchor: str = ""  # ISO date the view is built around
    title: str = ""
    days: list[schedule_service.CalendarDay] = []
    appointments: list[schedule_service.CalendarAppointment] = []
    hours: list[str] = []

    details_open: bool = False
    details: schedule_service.SessionDetails = EMPTY_DETAILS
    details_error: str = ""

    def _today(self, tz: str) -> dt.date:
        return local_today(tz)

    def _refresh(self) -> None:
        who = self.identity()
        if who is None:
            return
        today = self._today(who.practice_timezone)
        anchor = dt.date.fromisoformat(self.anchor) if self.anchor else today
        if self.view == "day":
            start, count = anchor, 1
        else:
            start, count = schedule_service.week_start(anchor), 7
        with session_scope() as session:
            cal = schedule_service.calendar_range(
                session, who.practice_id, start, count, who.practice_timezone, today
            )
        self.anchor = anchor.isoformat()
        self.title = cal.title
        self.days = cal.days
        self.appointments = cal.appointments
        self.hours = [
            f"{h % 12 or 12} {'AM' if h < 12 else 'PM'}"
            for h in range(schedule_service.DAY_START_HOUR, schedule_service.DAY_END_HOUR)
        ]

    @rx.event
    def load(self) -> None:
        self.details_open = False
        self._refresh()

    @rx.event
    def set_view(self, view: str | list[str]) -> None:
        self.view = "day" if view == "day" else "week"
        self._refresh()

    def _shift(self, direction: int) -> None:
        anchor = dt.date.fromisoformat(self.anchor) if self.anchor else dt.date.today()
        step = 1 if self.view == "day" else 7
        self.anchor = (anchor + dt.timedelta(days=direction * step)).isoformat()
        self._refresh()

    @rx.event
    def previous(self) -> None:
        self._shift(-1)

    @rx.event
    def next(self) -> None:
        self._shift(1)

    @rx.event
    def today(self) -> None:
        self.anchor = ""
        self._refresh()

    @rx.event
    def show_day(self, iso: str) -> None:
        self.view = "day"
        self.anchor = iso
        self._refresh()

    @rx.event
    def open_appointment(self, appointment_id: int) -> None:
        self._load_details(int(appointment_id))
        self.details_open = True
        self._watch()

    def _load_details(self, appointment_id: int) -> None:
        who = self.identity()
        if who is None:
            return
        try:
            with session_scope() as session:
                self.details = schedule_service.session_details(
                    session, who.practice_id, int(appointment_id), who.practice_timezone
                )
            self.details_error = ""
        except NotFoundError:
            self.details = EMPTY_DETAILS
            self.details_error = "This appointment no longer exists."

    @rx.event
    def set_details_open(self, value: bool) -> None:
        self.details_open = value

    def _live_refresh(self, request_ids: frozenset[int]) -> None:
        """A request changed somewhere: re-read the open session details."""
        if self.details_open and self.details.id:
            self._load_details(self.details.id)
