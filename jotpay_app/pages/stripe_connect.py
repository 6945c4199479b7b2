"""Where Stripe Connect onboarding returns the clinician."""

from __future__ import annotations

import reflex as rx

from jotpay_app.components.layout import page_shell
from jotpay_app.state.request_form import ConnectState as C


def stripe_return_page() -> rx.Component:
    return page_shell(
        rx.card(
            rx.cond(
                C.checking,
                rx.hstack(
                    rx.spinner(), rx.text("Checking your Stripe account…"), id="stripe-checking"
                ),
                rx.cond(
                    C.error != "",
                    rx.callout(C.error, color_scheme="red", icon="circle-alert", id="stripe-error"),
                    rx.cond(
                        C.ready,
                        rx.callout(
                            "Stripe is set up.",
                            color_scheme="green",
                            icon="check",
                            id="stripe-ready",
                        ),
                        rx.vstack(
                            rx.heading("Your Stripe setup is not finished", size="4", as_="h2"),
                            rx.text("Stripe still needs:", size="2"),
                            rx.el.ul(
                                rx.foreach(C.missing, lambda item: rx.el.li(item)),
                                id="stripe-missing",
                            ),
                            rx.text(
                                "Payment requests can be sent once this is done. It only "
                                "takes a few minutes.",
                                size="2",
                                color_scheme="gray",
                            ),
                            rx.button(
                                "Continue setup",
                                on_click=C.continue_setup,
                                id="continue-setup",
                                size="3",
                            ),
                            spacing="3",
                        ),
                    ),
                ),
            ),
            max_width="560px",
        ),
        title="Stripe setup",
    )
