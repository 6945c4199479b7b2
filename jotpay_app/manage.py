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
