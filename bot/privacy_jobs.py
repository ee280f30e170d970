"""The bot's scheduled privacy work: message bodies past their retention, farewells sent elsewhere."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask

from bot import privacy_data
from domain import privacy_settings
from runtime import services

log = logging.getLogger(__name__)


def purge_message_bodies(app: Flask) -> int:
    """Texts and payloads older than ``message_retention_days`` (180 by default); statistics stay."""
    total = 0
    while True:
        with services.database(app).unit_of_work() as session:
            days = privacy_settings.load(session).message_retention_days
            done = privacy_data.purge_bodies(session, services.now(app) - dt.timedelta(days=days))
            done += privacy_data.scrub_leftovers(session)
        total += done
        if done == 0:
            break
    if total:
        log.info("purged the bodies of %d old message(s)", total)
    return total
