"""Operator commands: `python -m jotpay_app.manage migrate|seed|reseed`."""

from __future__ import annotations

import argparse

from jotpay_app.services.db import get_engine, session_scope
from jotpay_app.services.migrations import upgrade_to_head
from jotpay_app.services.seed import reseed, seed_if_empty
from jotpay_app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jotpay_app.manage")
    parser.add_argument("command", choices=["migrate", "seed", "reseed"])
    args = parser.parse_args(argv)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.database_url)
    if args.command == "migrate":
        print("database is at the latest migration")
        return
    with session_scope(get_engine()) as session:
        summary = reseed(session) if args.command == "reseed" else seed_if_empty(session)
    if settings.sandbox_outbox_url and settings.stripe_secret_key:
        # Only against the local stand-in: real Stripe accounts are not demo data.
        from jotpay_app.sandbox.client import complete_onboarding
        from jotpay_app.services.seed_stripe import seed_connected_clinician
        from jotpay_app.services.stripe_gateway import StripeGateway

        made = seed_connected_clinician(
            get_engine(),
            StripeGateway.from_settings(settings),
            complete_onboarding=complete_onboarding,
            app_base_url=settings.app_base_url,
        )
        if made:
            print(f"demo2's Stripe account connected in the stand-in; {made} payments created")
    if summary is None:
        print("database already has data: demo data not loaded (use `make reseed`)")
    else:
        print(
            f"demo data loaded: {summary.practices} practices, {summary.clinicians} clinicians, "
            f"{summary.patients} patients, {summary.appointments} appointments, "
            f"{summary.notes} notes, {summary.requests} payment requests"
        )


if __name__ == "__main__":
    main()
