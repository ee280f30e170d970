"""The scheduled ERP sync: a plain job function, put on the schedule by ``loyalty.scheduler``."""

from __future__ import annotations

import logging

from flask import Flask

from erp.reader import is_configured
from erp.sync import SyncSummary, run

log = logging.getLogger(__name__)


def sync_job(app: Flask) -> SyncSummary | None:
    """One incremental run. A failure is recorded in its ``SyncRun`` and retried at the next interval;
    the web app never waits on it. Without an ERP configured there is nothing to do."""
    if not is_configured(app.config) and "erp.reader_factory" not in app.extensions:
        log.debug("ERP sync not configured; skipping")
        return None
    summary = run(app, trigger="schedule")
    log.info(
        "ERP sync %s: read %d, created %d, updated %d, quarantined %d, suppressed %d",
        summary.status,
        summary.read,
        summary.created,
        summary.updated,
        summary.quarantined,
        summary.suppressed,
    )
    return summary


def interval_minutes(app: Flask) -> float:
    return float(app.config.get("ERP_SYNC_INTERVAL_MINUTES") or 15)
