"""Background jobs (APScheduler), started and stopped with the Reflex backend.

Each job is a plain service function; the scheduler only calls it on a timer. Jobs are
safe to run in several workers at once: they claim rows under row locks and re-check
state before acting (see services/requests.run_sms_retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler

from jotpay_app.services.db import get_engine
from jotpay_app.services.reminders import SweepResult, sweep
from jotpay_app.services.sms import SmsGateway
from jotpay_app.services.stripe_gateway import StripeGateway
from jotpay_app.settings import get_settings

log = logging.getLogger(__name__)
SMS_RETRY_INTERVAL_SECONDS = 30
# Overdue marking, reminders and missed-webhook checks. Reminders are due on the hour
# (10:00 practice time by default), so a few minutes late is fine; every run is cheap
# when there is nothing to do.
OVERDUE_SWEEP_MINUTES = 5
# The first sweep runs this soon after start, so a restart after downtime catches up
# at once instead of one interval later.
OVERDUE_SWEEP_FIRST_RUN_SECONDS = 15


def retry_failed_sms() -> None:
    from jotpay_app.services.requests import run_sms_retries

    settings = get_settings()
    count = run_sms_retries(
        get_engine(), SmsGateway.from_settings(settings), public_base_url=settings.public_base_url
    )
    if count:
        log.info("retried %d payment text(s)", count)


def overdue_sweep(now: dt.datetime | None = None) -> SweepResult:
    """The overdue job (services/reminders.sweep) with the app's database and gateways."""
    settings = get_settings()
    result = sweep(
        get_engine(),
        SmsGateway.from_settings(settings),
        StripeGateway.from_settings(settings),
        public_base_url=settings.public_base_url,
        now=now,
    )
    if result.marked_overdue or result.reminders_sent or result.payments_recovered:
        log.info(
            "overdue sweep: %d marked overdue, %d reminder(s) sent, %d payment(s) recovered",
            result.marked_overdue,
            result.reminders_sent,
            result.payments_recovered,
        )
    return result


def build_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        retry_failed_sms,
        "interval",
        seconds=SMS_RETRY_INTERVAL_SECONDS,
        id="retry_failed_sms",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        overdue_sweep,
        "interval",
        minutes=OVERDUE_SWEEP_MINUTES,
        id="overdue_sweep",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(dt.UTC)
        + dt.timedelta(seconds=OVERDUE_SWEEP_FIRST_RUN_SECONDS),
    )
    return scheduler


async def scheduler_lifespan() -> None:
    """Reflex lifespan task: run the jobs until the backend stops."""
    if not get_settings().scheduler_enabled:
        return
    scheduler = build_scheduler()
    scheduler.start()
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        with contextlib.suppress(Exception):
            scheduler.shutdown(wait=False)
