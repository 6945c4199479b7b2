"""Reflex configuration. Values that vary by deployment come from jotpay_app.settings."""

import reflex as rx

from jotpay_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="jotpay_app",
    db_url=_settings.database_url,
    redis_url=_settings.redis_url or None,
    api_url=f"http://localhost:{_settings.backend_port}",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    default_color_mode="light",
    disable_plugins=[rx.plugins.SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                accent_color="teal", gray_color="slate", radius="medium", has_background=True
            )
        )
    ],
)
