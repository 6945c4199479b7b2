"""The signed-in frame: top bar with the four places and the account menu."""

from __future__ import annotations

import reflex as rx

from jotpay_app.state.base import AuthState

NAV_ITEMS = [
    ("Patients / Clients", "/patients", "nav-patients", "users"),
    ("Schedule", "/schedule", "nav-schedule", "calendar-days"),
    ("Notes", "/notes", "nav-notes", "notebook-pen"),
]


def nav_link(label: str, href: str, element_id: str, icon: str) -> rx.Component:
    active = AuthState.router.url.path.startswith(href)
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label), spacing="2", align="center"),
        href=href,
        id=element_id,
        underline="none",
        padding_x="0.75rem",
        padding_y="0.4rem",
        border_radius="var(--radius-3)",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        weight="medium",
        aria_current=rx.cond(active, "page", "false"),
    )


def account_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.text(AuthState.account_initials, size="2", weight="bold"),
                id="account-menu",
                aria_label="Account",
                radius="full",
                variant="soft",
                size="3",
            )
        ),
        rx.menu.content(
            rx.box(
                rx.text(AuthState.clinician_name, weight="bold", size="2"),
                rx.text(AuthState.clinician_email, size="1", color_scheme="gray"),
                rx.text(AuthState.practice_name, size="1", color_scheme="gray"),
                padding="0.5rem 0.75rem",
            ),
            rx.menu.separator(),
            rx.menu.item(
                rx.hstack(rx.icon("credit-card", size=14), rx.text("Payment Settings")),
                on_select=rx.redirect("/payment-settings"),
                id="menu-payment-settings",
            ),
            rx.menu.item(
                rx.hstack(rx.icon("log-out", size=14), rx.text("Log out")),
                on_select=AuthState.log_out,
                id="menu-logout",
                color="red",
            ),
            align="end",
        ),
    )


def sandbox_badge() -> rx.Component:
    return rx.cond(
        AuthState.sandbox_outbox_url != "",
        rx.link(
            rx.badge(rx.icon("smartphone", size=12), "Sandbox", color_scheme="amber", size="2"),
            href=AuthState.sandbox_outbox_url,
            is_external=True,
            id="sandbox-badge",
            title="Local stand-in: open the phone outbox to see what patients receive",
        ),
    )


def navbar() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.icon("badge-dollar-sign", size=22, color=rx.color("accent", 10)),
                    rx.heading("JotPay", size="5"),
                    align="center",
                    spacing="2",
                ),
                href="/patients",
                underline="none",
                color="inherit",
            ),
            rx.hstack(
                *[nav_link(*item) for item in NAV_ITEMS], spacing="1", as_="nav", aria_label="Main"
            ),
            rx.spacer(),
            sandbox_badge(),
            account_menu(),
            align="center",
            spacing="5",
            max_width="1200px",
            margin_x="auto",
            padding_x="1.25rem",
            height="60px",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
    )


def page_shell(*children: rx.Component, title: str = "") -> rx.Component:
    heading = [rx.heading(title, size="6", margin_bottom="1rem", as_="h1")] if title else []
    return rx.box(
        navbar(),
        rx.box(
            *heading,
            *children,
            as_="main",
            max_width="1200px",
            margin_x="auto",
            padding="1.5rem 1.25rem 4rem",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def card(*children: rx.Component, **props) -> rx.Component:
    return rx.card(*children, size="2", width="100%", **props)


def field_error(message: rx.Var, element_id: str) -> rx.Component:
    """A validation message placed right under its field, announced to screen readers."""
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="2", id=element_id, role="alert"),
    )
