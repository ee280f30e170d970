"""The scheduler process: APScheduler in one dedicated process, never in web workers.

Each package offers plain job functions taking the app; only this module puts
them on a schedule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from bot import campaign_sender, campaign_webhooks
from bot import jobs as bot_jobs
from bot import privacy_jobs as bot_privacy_jobs
from erp import jobs as erp_jobs
from loyalty import jobs, privacy_jobs

log = logging.getLogger(__name__)


def job_table(app: Flask) -> list[tuple[str, Callable[[Flask], Any], dict[str, Any]]]:
    """(name, function, trigger arguments) for every scheduled job."""
    table: list[tuple[str, Callable[[Flask], Any], dict[str, Any]]] = [
        ("heartbeat", jobs.heartbeat, {"trigger": "interval", "seconds": 30}),
        ("expire_points", jobs.expire_points, {"trigger": "cron", "hour": 0, "minute": 30}),
        # Birthday, anniversary, win-back, expiry reminders, tier at risk: each acts from its local hour, so
        # twice an hour means within 30 minutes of it (every occasion once, however often this runs).
        ("run_automations", jobs.run_automations, {"trigger": "cron", "minute": "5,35"}),
        ("expire_vouchers", jobs.expire_vouchers, {"trigger": "cron", "hour": 0, "minute": 45}),
        ("review_tiers", jobs.review_tiers, {"trigger": "cron", "day": 1, "hour": 1, "minute": 0}),
        ("retry_outbox", bot_jobs.retry_outbox, {"trigger": "interval", "seconds": 5}),
        ("handle_stranded", bot_jobs.handle_stranded, {"trigger": "interval", "seconds": 15}),
        ("apply_early_statuses", bot_jobs.apply_early_statuses, {"trigger": "interval", "seconds": 30}),
        ("dispatch_notifications", bot_jobs.dispatch_notifications, {"trigger": "interval", "seconds": 20}),
        # Campaigns and queued automation messages, at the shared pace (runs as long as there is work).
        ("send_campaigns", campaign_sender.send_campaigns, {"trigger": "interval", "seconds": 5}),
        # The number for wa.me links, when WHATSAPP_DISPLAY_NUMBER is not set: at start, then every 6 hours.
        (
            "refresh_business_number",
            bot_jobs.refresh_business_number,
            {"trigger": "interval", "hours": 6, "next_run_time": dt.datetime.now(dt.UTC)},
        ),
        (
            "apply_early_campaign_statuses",
            campaign_webhooks.apply_early_statuses,
            {"trigger": "interval", "seconds": 10},
        ),
        ("erp_sync", erp_jobs.sync_job, {"trigger": "interval", "minutes": erp_jobs.interval_minutes(app)}),
        ("erp_sync_requested", erp_jobs.requested_sync_job, {"trigger": "interval", "seconds": 10}),
        ("expire_holds", jobs.expire_holds, {"trigger": "interval", "seconds": 30}),
        ("purge_idempotency", jobs.purge_idempotency, {"trigger": "cron", "minute": 15}),
        # Privacy: erasures after their cooling-off, retention (off unless set in the console), old data.
        ("run_due_erasures", privacy_jobs.run_due_erasures, {"trigger": "interval", "minutes": 5}),
        ("warn_inactive", privacy_jobs.warn_inactive, {"trigger": "cron", "hour": 10, "minute": 15}),
        ("erase_inactive", privacy_jobs.erase_inactive, {"trigger": "interval", "hours": 1}),
        ("purge_message_bodies", bot_privacy_jobs.purge_message_bodies, {"trigger": "cron", "hour": 2, "minute": 30}),
        ("purge_access_log", privacy_jobs.purge_access_log, {"trigger": "cron", "hour": 2, "minute": 45}),
    ]
    return table


def safe(app: Flask, name: str, func: Callable[[Flask], Any]) -> Callable[[], None]:
    """A job that fails is logged and tried again at its next run; the process keeps going."""

    def run_job() -> None:
        try:
            with app.app_context():
                func(app)
        except Exception:
            log.exception("scheduled job %s failed", name)

    return run_job


def build(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    for name, func, trigger in job_table(app):
        scheduler.add_job(safe(app, name, func), id=name, name=name, **trigger)
    return scheduler


def run(app: Flask) -> None:
    # APScheduler logs every run at INFO; our jobs log what they did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = build(app)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    safe(app, "heartbeat", jobs.heartbeat)()
    log.info("scheduler started with jobs: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
