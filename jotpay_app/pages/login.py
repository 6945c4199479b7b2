"""Log in."""

from __future__ import annotations

import reflex as rx

from jotpay_app.state.base import AuthState


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.icon("badge-dollar-sign", size=28, color=rx.color("accent", 10)),
                        rx.heading("JotPay", size="7", as_="h1"),
                        align="center",
                    ),
                    rx.text("Log in to request and track patient payments.", color_scheme="gray"),
                    rx.vstack(
                        rx.el.label("Email", html_for="login-email"),
                        rx.input(
                            id="login-email",
                            name="email",
                            type="email",
                            required=True,
                            auto_complete="username",
                            value=AuthState.login_email,
                            on_change=AuthState.set_login_email,
                            width="100%",
                            size="3",
                            auto_focus=True,
                        ),
                        width="100%",
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.el.label("Password", html_for="login-password"),
                        rx.input(
                            id="login-password",
                            name="password",
                            type="password",
                            required=True,
                            auto_complete="current-password",
                            value=AuthState.login_password,
                            on_change=AuthState.set_login_password,
                            width="100%",
                            size="3",
                        ),
                        width="100%",
                        spacing="1",
                    ),
                    rx.cond(
                        AuthState.login_error != "",
                        rx.callout(
                            AuthState.login_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            id="login-error",
                            role="alert",
                            width="100%",
                        ),
                    ),
                    rx.button("Log in", type="submit", id="login-submit", width="100%", size="3"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.log_in,
            ),
            size="4",
            width="min(420px, 92vw)",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
