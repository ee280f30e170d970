"""The scheduled ERP sync: a plain job function, put on the schedule by ``loyalty.scheduler``."""

from __future__ import annotations

import logging

from flask import Flask

from domain import sync_runs
from erp.reader import is_configured
from erp.sync import SyncSummary, run
from runtime import services

log = logging.getLogger(__name__)


def sync_job(app: Flask) -> SyncSummary | None:
    """One incremental run. A failure is recorded in its ``SyncRun`` and retried at the next interval;
    the web app never waits on it. Without an ERP configured there is nothing to do."""
    if not is_configured(app.config) and "erp.reader_factory" not in app.extensions:
        log.debug("ERP sync not configured; skipping")
        return None
    summary = run(app, trigger="schedule")
    log.info(
        "ERP sync %s: read %d, created %d, updated %d, quarantined %d",
        summary.status,
        summary.read,
        summary.created,
        summary.updated,
        summary.quarantined,
    )
    return summary


def requested_sync_job(app: Flask) -> SyncSummary | None:
    """Run a sync someone asked for ("sync now" through the API): the oldest queued request, if any.

    The run takes the sync's lock like any other, so this never runs beside another sync; if one is
    running, the request goes back in the queue for the next turn of this job.
    """
    db = services.database(app)
    with db.unit_of_work() as session:
        request = sync_runs.take_request(session, services.now(app))
        if request is None:
            return None
        request_id, full, entities = request.id, request.full, request.entities.split(",")
    if not is_configured(app.config) and "erp.reader_factory" not in app.extensions:
        with db.unit_of_work() as session:
            sync_runs.finish_request(session, request_id, None, "not_configured", services.now(app))
        log.warning("ERP sync requested but no ERP is configured")
        return None
    summary: SyncSummary | None = None
    try:
        summary = run(app, full=full, entities=entities, trigger="api")
    finally:
        outcome = summary.status if summary is not None else "failed"
        with db.unit_of_work() as session:
            sync_runs.finish_request(
                session, request_id, summary.run_id if summary else None, outcome, services.now(app)
            )
    log.info("requested ERP sync %s: read %d, created %d", summary.status, summary.read, summary.created)
    return summary


def interval_minutes(app: Flask) -> float:
    return float(app.config.get("ERP_SYNC_INTERVAL_MINUTES") or 15)
