"""Payment Settings: totals, chart, the requests table, the detail panel, Stripe, practice
settings."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import card, field_error, page_shell
from jotpay_app.components.status_badge import status_badge
from jotpay_app.services.dashboard import TimelineEntry
from jotpay_app.services.payments import RequestRow
from jotpay_app.state.payments import SORTABLE
from jotpay_app.state.payments import PaymentSettingsState as S

COLUMNS = ("Invoice", *SORTABLE.keys())
_SORT_KEY = {label: key for label, key in SORTABLE.items()}


def stripe_panel() -> rx.Component:
    return card(
        rx.hstack(
            rx.vstack(
                rx.heading("Stripe account", size="3", as_="h2"),
                rx.cond(
                    S.stripe_ready,
                    rx.hstack(
                        rx.badge("Charges enabled", color_scheme="green"),
                        rx.cond(
                            S.stripe_payouts,
                            rx.badge("Payouts enabled", color_scheme="green"),
                            rx.badge("Payouts pending", color_scheme="orange"),
                        ),
                        id="stripe-state",
                    ),
                    rx.vstack(
                        rx.text(
                            rx.cond(
                                S.stripe_has_account,
                                "Your Stripe setup is not finished.",
                                "Stripe is not connected yet: your first payment request "
                                "starts the setup.",
                            ),
                            size="2",
                            id="stripe-state",
                        ),
                        rx.cond(
                            S.stripe_missing.length() > 0,
                            rx.text(
                                "Still needed: ",
                                S.stripe_missing.join(", "),
                                size="1",
                                color_scheme="gray",
                            ),
                        ),
                        spacing="1",
                    ),
                ),
                spacing="2",
            ),
            rx.spacer(),
            rx.cond(
                S.stripe_ready,
                rx.button(
                    rx.icon("external-link", size=14),
                    "Open Stripe Dashboard",
                    on_click=S.open_stripe_dashboard,
                    loading=S.opening_dashboard,
                    variant="soft",
                    id="open-stripe-dashboard",
                ),
                rx.button("Continue setup", on_click=S.continue_setup, id="continue-setup"),
            ),
            align="center",
            width="100%",
        ),
    )


def total_card(label: str, key: str, element_id: str) -> rx.Component:
    return rx.card(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(S.totals.get(key, "$0.00"), size="5", weight="bold", id=element_id),
        size="1",
    )


def totals_section() -> rx.Component:
    return rx.vstack(
        rx.text(S.totals_label, size="2", weight="medium", id="totals-label"),
        rx.grid(
            total_card("Collected (gross)", "gross", "total-gross"),
            total_card("Processing fees", "fees", "total-fees"),
            total_card("Refunded", "refunded", "total-refunded"),
            total_card("Net payout", "net", "total-net"),
            total_card("Outstanding", "outstanding", "total-outstanding"),
            rx.card(
                rx.text("Overdue", size="1", color_scheme="gray"),
                rx.text(
                    S.totals.get("overdue", "$0.00"), size="5", weight="bold", id="total-overdue"
                ),
                rx.text(S.overdue_count, " requests", size="1", color_scheme="gray"),
                size="1",
            ),
            columns=rx.breakpoints(initial="2", md="6"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def chart() -> rx.Component:
    return card(
        rx.text("Collected per week (last 12 weeks)", size="2", weight="medium"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="collected", fill=rx.color("accent", 9), name="Collected ($)"),
            rx.recharts.x_axis(data_key="week", font_size=11),
            rx.recharts.y_axis(font_size=11),
            rx.recharts.graphing_tooltip(),
            data=S.chart,
            height=180,
            width="100%",
        ),
        id="weekly-chart",
    )


def filters() -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Search patient name",
            value=S.search,
            on_change=S.set_search.debounce(300),
            id="filter-search",
            aria_label="Search by patient name",
            width="16rem",
        ),
        rx.el.select(
            rx.foreach(S.status_options, lambda o: rx.el.option(o[1], value=o[0])),
            value=S.status_filter,
            on_change=S.set_status_filter,
            id="filter-status",
            aria_label="Filter by status",
            style={
                "padding": "0.4rem",
                "border-radius": "6px",
                "border": "1px solid var(--gray-7)",
                "background": "var(--color-panel)",
            },
        ),
        rx.hstack(
            rx.el.label("From", html_for="filter-start", font_size="0.85rem"),
            rx.input(type="date", value=S.start, on_change=S.set_start, id="filter-start"),
            rx.el.label("to", html_for="filter-end", font_size="0.85rem"),
            rx.input(type="date", value=S.end, on_change=S.set_end, id="filter-end"),
            align="center",
        ),
        rx.button("Clear", variant="ghost", on_click=S.clear_filters, id="filter-clear"),
        rx.spacer(),
        rx.link(
            rx.button(rx.icon("download", size=14), "Export CSV", variant="soft"),
            href=S.export_url,
            id="export-csv",
            is_external=False,
        ),
        wrap="wrap",
        align="center",
        width="100%",
    )


def header_cell(label: str) -> rx.Component:
    if label not in _SORT_KEY:
        return rx.table.column_header_cell(label)
    key = _SORT_KEY[label]
    active = S.sort == key
    return rx.table.column_header_cell(
        rx.button(
            label,
            rx.cond(
                active,
                rx.cond(
                    S.direction == "asc",
                    rx.icon("arrow-up", size=12),
                    rx.icon("arrow-down", size=12),
                ),
            ),
            variant="ghost",
            size="1",
            on_click=S.sort_by(label),
            id=f"sort-{key}",
        ),
        aria_sort=rx.cond(active, rx.cond(S.direction == "asc", "ascending", "descending"), "none"),
    )


def request_row(row: rx.Var[RequestRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#" + row.invoice_number.to_string()),
        rx.table.row_header_cell(row.patient_name),
        rx.table.cell(row.amount),
        rx.table.cell(
            row.reason,
            max_width="14rem",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
        ),
        rx.table.cell(row.sent),
        rx.table.cell(row.due),
        rx.table.cell(
            rx.hstack(
                status_badge(row.status, row.status_label),
                rx.cond(
                    row.sms_delivery_label != "",
                    rx.text(row.sms_delivery_label, size="1", color_scheme="gray"),
                ),
                rx.cond(row.needs_attention, rx.badge("Refund needed", color_scheme="red")),
                align="center",
                spacing="1",
            ),
            class_name="request-status",
        ),
        rx.table.cell(row.paid),
        rx.table.cell(row.fee),
        rx.table.cell(row.net),
        id=f"request-row-{row.id}",
        data_status=row.status,
        on_click=S.open_detail(row.id),
        cursor="pointer",
        tab_index=0,
        class_name=rx.cond(S.highlight.contains(row.id), "request-row just-changed", "request-row"),
    )


def table() -> rx.Component:
    return rx.cond(
        S.total > 0,
        rx.vstack(
            rx.card(
                rx.table.root(
                    rx.table.header(rx.table.row(*[header_cell(c) for c in COLUMNS])),
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
            rx.cond(
                (S.search != "") | (S.status_filter != "all") | (S.start != "") | (S.end != ""),
                "No payment requests match these filters.",
                "No payment requests yet. Use Request Payment on a patient's profile, on an "
                "appointment in the Schedule, or after generating a note.",
            ),
            icon="inbox",
            id="requests-empty",
        ),
    )


def timeline_item(entry: rx.Var[TimelineEntry]) -> rx.Component:
    return rx.hstack(
        rx.box(
            width="8px",
            height="8px",
            border_radius="50%",
            background=rx.color("accent", 9),
            margin_top="6px",
            flex_shrink="0",
        ),
        rx.vstack(
            rx.text(entry.what, size="2", weight="medium"),
            rx.text(entry.who, " · ", entry.at, size="1", color_scheme="gray"),
            rx.cond(entry.detail != "", rx.text(entry.detail, size="1")),
            spacing="0",
        ),
        align="start",
        class_name="timeline-entry",
    )


def refund_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Refund payment"),
            rx.alert_dialog.description(
                "The refund goes back to the patient's card and is taken from your payout. "
                "The processing fee (2.9% + $0.30) is not returned by Stripe.",
                size="2",
            ),
            rx.vstack(
                rx.el.label("Amount to refund", html_for="refund-amount"),
                rx.input(
                    rx.input.slot("$"),
                    id="refund-amount",
                    value=S.refund_amount,
                    on_change=S.set_refund_amount,
                    input_mode="decimal",
                ),
                field_error(S.refund_error, "refund-error"),
                spacing="1",
                margin_y="1rem",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Keep payment", variant="soft", color_scheme="gray")
                ),
                rx.button(
                    "Refund",
                    color_scheme="red",
                    on_click=S.refund,
                    loading=S.busy == "refund",
                    id="confirm-refund",
                ),
                justify="end",
            ),
        ),
        open=S.refund_open,
        on_open_change=S.set_refund_open,
    )


def action_button(
    icon: str,
    label: str,
    on_click,
    element_id: str,
    *,
    busy: str = "",
    danger: bool = False,
) -> rx.Component:
    """One of the detail panel's actions; shows progress while its action runs."""
    return rx.button(
        rx.icon(icon, size=14),
        label,
        on_click=on_click,
        size="1",
        variant="soft",
        color_scheme="red" if danger else None,
        loading=(S.busy == busy) if busy else False,
        id=element_id,
    )


def detail_panel() -> rx.Component:
    d = S.detail
    status = d.status.to(str)
    can_cancel = rx.Var.create(
        ["awaiting_setup", "sms_failed", "sent", "payment_failed", "overdue"]
    ).contains(status)
    can_resend = rx.Var.create(["sent", "payment_failed", "overdue", "sms_failed"]).contains(status)
    can_refund = rx.Var.create(["paid", "partially_refunded"]).contains(status)
    return rx.dialog.root(
        rx.dialog.content(
            rx.cond(
                d,
                rx.vstack(
                    rx.hstack(
                        rx.dialog.title(
                            "Invoice #",
                            d.invoice_number.to_string(),
                            " · ",
                            d.patient_name,
                            margin="0",
                            id="detail-title",
                        ),
                        rx.spacer(),
                        rx.box(
                            status_badge(d.status, d.status_label),
                            id="detail-status",
                            data_status=d.status,
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.text(d.amount, " · ", d.reason, " · due ", d.due, size="2"),
                    rx.cond(
                        d.paid != "",
                        rx.text(
                            "Paid ",
                            d.paid,
                            " · fee ",
                            d.fee,
                            " · net ",
                            d.net,
                            size="2",
                            color_scheme="gray",
                        ),
                    ),
                    rx.cond(
                        d.needs_attention,
                        rx.callout(
                            "This payment arrived after the request was canceled. Refund it.",
                            color_scheme="red",
                            size="1",
                        ),
                    ),
                    rx.hstack(
                        rx.cond(
                            can_resend,
                            action_button(
                                "send", "Resend", S.resend, "action-resend", busy="resend"
                            ),
                        ),
                        rx.cond(
                            can_cancel,
                            action_button("copy", "Copy link", S.copy_link, "action-copy-link"),
                        ),
                        rx.cond(
                            status == "overdue",
                            action_button(
                                "bell",
                                "Send reminder now",
                                S.remind_now,
                                "action-remind",
                                busy="remind",
                            ),
                        ),
                        rx.cond(
                            can_refund,
                            action_button(
                                "undo-2", "Refund", S.open_refund, "action-refund", danger=True
                            ),
                        ),
                        rx.cond(
                            can_cancel,
                            action_button(
                                "x", "Cancel request", S.ask_cancel, "action-cancel", danger=True
                            ),
                        ),
                        rx.link(
                            rx.button(
                                rx.icon("file-text", size=14),
                                "View invoice",
                                size="1",
                                variant="soft",
                            ),
                            href="/invoices/" + d.id.to_string(),
                            id="action-view-invoice",
                        ),
                        rx.link(
                            rx.button(
                                rx.icon("download", size=14), "Download", size="1", variant="soft"
                            ),
                            href=S.backend_url + "/api/invoices/" + d.id.to_string() + ".pdf",
                            id="action-download-invoice",
                        ),
                        wrap="wrap",
                        spacing="2",
                    ),
                    rx.cond(
                        S.reminder_message != "",
                        rx.text(S.reminder_message, size="2", id="reminder-message"),
                    ),
                    rx.cond(
                        S.confirm_cancel,
                        rx.callout(
                            rx.vstack(
                                rx.text("Cancel this request? The pay link will stop working."),
                                rx.hstack(
                                    rx.button(
                                        "Yes, cancel it",
                                        color_scheme="red",
                                        size="1",
                                        on_click=S.cancel,
                                        loading=S.busy == "cancel",
                                        id="confirm-cancel",
                                    ),
                                    rx.button(
                                        "Keep it", size="1", variant="soft", on_click=S.keep_request
                                    ),
                                ),
                            ),
                            color_scheme="red",
                            width="100%",
                        ),
                    ),
                    rx.divider(),
                    rx.text("Timeline", weight="bold", size="2"),
                    rx.vstack(
                        rx.foreach(S.timeline, timeline_item),
                        spacing="2",
                        id="request-timeline",
                        max_height="18rem",
                        overflow_y="auto",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="1rem",
            ),
            max_width="640px",
            id="request-detail",
        ),
        open=S.detail_open,
        on_open_change=S.set_detail_open,
    )


def settings_field(label: str, key: str, value: rx.Var, on_change, width: str) -> rx.Component:
    """A labelled input of the practice settings, its error right below it."""
    return rx.vstack(
        rx.el.label(label, html_for=f"settings-{key}"),
        rx.input(id=f"settings-{key}", value=value, on_change=on_change, width=width),
        field_error(S.settings_errors.get(key, ""), f"settings-{key}-error"),
        spacing="1",
    )


def practice_settings() -> rx.Component:
    return card(
        rx.heading("Practice settings", size="3", as_="h2"),
        rx.text(
            "Reminders for overdue requests, for every clinician of the practice. Texts go "
            "out only between 8:00 and 20:00, at most one a day and three a week per "
            "patient.",
            size="2",
            color_scheme="gray",
        ),
        rx.form(
            rx.hstack(
                settings_field(
                    "Days after the due date", "days", S.reminder_days, S.set_reminder_days, "10rem"
                ),
                settings_field(
                    "Hour (practice time)", "hour", S.reminder_hour, S.set_reminder_hour, "6rem"
                ),
                settings_field("At most", "max", S.max_reminders, S.set_max_reminders, "6rem"),
                rx.button("Save", type="submit", id="settings-save"),
                align="end",
                wrap="wrap",
                spacing="4",
                margin_top="0.75rem",
            ),
            on_submit=lambda _form: S.save_practice_settings(),
            reset_on_submit=False,
        ),
    )


def payment_settings_page() -> rx.Component:
    return page_shell(
        rx.el.style(
            "@keyframes jp-flash{from{background:var(--amber-4)}to{background:transparent}}"
            ".just-changed{animation:jp-flash 2.5s ease-out}"
        ),
        rx.vstack(
            rx.text(
                "Every payment request you have sent, with its status. A processing fee of "
                "2.9% + $0.30 per payment is deducted from your payout.",
                color_scheme="gray",
                size="2",
            ),
            stripe_panel(),
            totals_section(),
            chart(),
            filters(),
            rx.cond(S.query_error != "", rx.callout(S.query_error, color_scheme="red")),
            table(),
            practice_settings(),
            detail_panel(),
            refund_dialog(),
            spacing="4",
            width="100%",
        ),
        title="Payment Settings",
    )
