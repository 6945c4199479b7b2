"""Request status as a coloured badge."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {
    "awaiting_setup": "gray",
    "sending": "blue",
    "sms_failed": "red",
    "sent": "blue",
    "payment_failed": "red",
    "overdue": "orange",
    "paid": "green",
    "partially_refunded": "purple",
    "refunded": "purple",
    "canceled": "gray",
}


def status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(
            status,
            *[(key, color) for key, color in STATUS_COLORS.items()],
            "gray",
        ),
        variant="soft",
        size="2",
        data_status=status,
    )
