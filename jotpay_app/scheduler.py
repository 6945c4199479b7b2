"""Background jobs (APScheduler), started and stopped with the Reflex backend.

Each job is a plain service function; the scheduler only calls it on a timer. Jobs are
safe to run in several workers at once: they claim rows under row locks and re-check
state before acting (see services/requests.run_sms_retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from apscheduler.schedulers.background import BackgroundScheduler

from jotpay_app.services.db import get_engine
from jotpay_app.services.sms import SmsGateway
from jotpay_app.settings import get_settings

log = logging.getLogger(__name__)
SMS_RETRY_INTERVAL_SECONDS = 30


def retry_failed_sms() -> None:
    from jotpay_app.services.requests import run_sms_retries

    settings = get_settings()
    count = run_sms_retries(
        get_engine(), SmsGateway.from_settings(settings), public_base_url=settings.public_base_url
    )
    if count:
        log.info("retried %d payment text(s)", count)


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
