"""The privacy room's scheduled work: erasures after their cooling-off, retention, the access log's age.

Each job commits one batch at a time, so a failure loses at most the batch in flight and the
next run carries on; settings are read per run (``PrivacySettings``, edited in the console).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy.orm import Session

from domain import access_log, data_requests, erasure, privacy_settings, retention
from loyalty.jobs import _until_empty
from runtime import services
from runtime.config import privacy_key

log = logging.getLogger(__name__)


def run_due_erasures(app: Flask) -> int:
    """Confirmed chat erasures whose cooling-off period is over."""
    key = privacy_key(app.config)

    def batch(session: Session) -> int:
        due = data_requests.due_erasures(session, services.now(app))
        for request in due:
            erasure.erase_for(session, request, now=services.now(app), actor="automatic", hash_key=key)
        return len(due)

    done = _until_empty(app, batch)
    if done:
        log.info("erased %d member(s) whose cooling-off period was over", done)
    return done


def warn_inactive(app: Flask) -> int:
    """Warn members inactive for the configured years (off unless an admin sets it)."""
    after, total = 0, 0
    while True:
        with services.database(app).unit_of_work() as session:
            settings = privacy_settings.load(session)
            retention.cancel_stale_warnings(session)
            last, count = retention.warn_inactive(session, settings, services.now(app), after_id=after)
        total += count
        if last == after:
            break
        after = last
    if total:
        log.info("retention: warned %d inactive member(s)", total)
    return total


def erase_inactive(app: Flask) -> int:
    """Erase warned members still inactive once the warning period is over."""
    key = privacy_key(app.config)

    def batch(session: Session) -> int:
        settings = privacy_settings.load(session)
        return retention.erase_inactive(session, settings, services.now(app), hash_key=key)

    done = _until_empty(app, batch)
    if done:
        log.info("retention: erased %d inactive member(s)", done)
    return done


def purge_access_log(app: Flask) -> int:
    with services.database(app).unit_of_work() as session:
        days = privacy_settings.load(session).access_log_days
        return access_log.purge(session, services.now(app) - dt.timedelta(days=days))
