"""Payment Settings: the logged-in clinician's own payment requests, paged on the server."""

from __future__ import annotations

import reflex as rx

from jotpay_app.live import live_state
from jotpay_app.services import payments as payment_service
from jotpay_app.services.db import session_scope
from jotpay_app.state.base import AuthState

PAGE_SIZE = 25


@live_state
class PaymentSettingsState(AuthState):
    rows: list[payment_service.RequestRow] = []
    total: int = 0
    page: int = 1

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def _load(self) -> None:
        who = self.identity()
        if who is None:
            return
        with session_scope() as session:
            result = payment_service.clinician_requests(
                session,
                who.clinician_id,
                who.practice_timezone,
                page=self.page,
                page_size=PAGE_SIZE,
            )
        self.rows = result.rows
        self.total = result.total

    @rx.event
    def load(self) -> None:
        self.page = 1
        self._load()
        self._watch()

    def _live_refresh(self, request_ids: frozenset[int]) -> None:
        # Same page, same filters: only the rows' values change under the clinician.
        self._load()

    @rx.event
    def next_page(self) -> None:
        if self.page < self.page_count:
            self.page += 1
            self._load()

    @rx.event
    def previous_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            self._load()
