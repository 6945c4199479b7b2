"""Week/day calendar grid: hour rows, day columns, appointments drawn at their times."""

from __future__ import annotations

import reflex as rx

from jotpay_app.services.schedule import CalendarAppointment, CalendarDay
from jotpay_app.state.schedule import ScheduleState as S

HOUR_HEIGHT_PX = 56


def appointment_block(appt: rx.Var[CalendarAppointment]) -> rx.Component:
    return rx.el.button(
        rx.text(appt.time_label, size="1", weight="bold", trim="both"),
        rx.text(appt.patient_name, size="1", trim="both"),
        rx.text(appt.session_type, size="1", color_scheme="gray", trim="both"),
        on_click=S.open_appointment(appt.id),
        id=f"appointment-{appt.id}",
        aria_label=appt.patient_name + ", " + appt.range_label + ", " + appt.session_type,
        data_color=appt.color,
        data_status=appt.status,
        data_has_note=rx.cond(appt.has_note, "true", "false"),
        position="absolute",
        top=appt.top_pct.to_string() + "%",
        height=appt.height_pct.to_string() + "%",
        left="calc(" + appt.left_pct.to_string() + "% + 2px)",
        width="calc(" + appt.width_pct.to_string() + "% - 4px)",
        overflow="hidden",
        text_align="left",
        padding="2px 6px",
        border_radius="6px",
        border="none",
        border_left="4px solid",
        cursor="pointer",
        opacity=rx.cond(appt.status == "canceled", "0.5", "1"),
        text_decoration=rx.cond(appt.status == "canceled", "line-through", "none"),
        class_name="appointment-block",
        style={
            "background": "var(--" + appt.color.to(str) + "-3)",
            "border-left-color": "var(--" + appt.color.to(str) + "-9)",
            "color": "var(--gray-12)",
        },
    )


def day_column(day: rx.Var[CalendarDay], index: rx.Var[int]) -> rx.Component:
    return rx.box(
        rx.foreach(
            S.appointments,
            lambda appt: rx.cond(appt.day_index == index, appointment_block(appt)),
        ),
        position="relative",
        height="100%",
        border_left=f"1px solid {rx.color('gray', 5)}",
        background=rx.cond(day.is_today, rx.color("accent", 2), "transparent"),
        background_image=(
            f"repeating-linear-gradient(to bottom, transparent 0, transparent "
            f"{HOUR_HEIGHT_PX - 1}px, var(--gray-4) {HOUR_HEIGHT_PX - 1}px, "
            f"var(--gray-4) {HOUR_HEIGHT_PX}px)"
        ),
        data_day=day.iso,
        class_name="day-column",
    )


def day_header(day: rx.Var[CalendarDay]) -> rx.Component:
    return rx.button(
        day.label,
        variant=rx.cond(day.is_today, "solid", "ghost"),
        size="1",
        on_click=S.show_day(day.iso),
        aria_label="Day view for " + day.label,
        width="100%",
    )


def calendar_grid() -> rx.Component:
    columns = "4rem repeat(" + S.days.length().to_string() + ", minmax(0, 1fr))"
    return rx.box(
        rx.box(
            rx.box(),
            rx.foreach(S.days, day_header),
            display="grid",
            grid_template_columns=columns,
            gap="0",
            padding_bottom="0.5rem",
        ),
        rx.box(
            rx.box(
                rx.foreach(
                    S.hours,
                    lambda hour: rx.box(
                        rx.text(hour, size="1", color_scheme="gray"),
                        height=f"{HOUR_HEIGHT_PX}px",
                        text_align="right",
                        padding_right="0.5rem",
                    ),
                ),
            ),
            rx.foreach(S.days, day_column),
            display="grid",
            grid_template_columns=columns,
            height=(S.hours.length() * HOUR_HEIGHT_PX).to_string() + "px",
        ),
        id="calendar",
        data_view=S.view,
        width="100%",
        overflow_x="auto",
    )
