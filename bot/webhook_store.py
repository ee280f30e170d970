"""Storing what one webhook POST carried: all of it in one statement, or else element by element.

The common case is one INSERT for the batch (and one transaction when it also carries
delivery reports). If that fails for anything but a database outage, one element must be
what the database refused (``bot.payload_clean`` should have made that impossible, but Meta
may send something new): the batch is stored again, each message and each report in its own
savepoint, so the bad one is dropped with a log line and the others are kept. Otherwise
PostgreSQL would roll the valid messages back with it and Meta would redeliver the batch for days.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot import campaign_webhooks, inbound, pipeline, preferences, status
from domain.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTAGE = (OperationalError, InterfaceError)  # the database is away: Meta must redeliver (500)
# A value the database (or its driver, before sending it: psycopg2 and NUL) refuses.
REFUSED = (SQLAlchemyError, ValueError, TypeError, UnicodeError)


def store(db: Database, update: inbound.Update, now: dt.datetime) -> list[pipeline.Stored]:
    """Store the update's messages as ``received`` and apply its reports; redeliveries are left out."""
    try:
        return _store_at_once(db, update, now)
    except OUTAGE:
        raise
    except REFUSED as exc:
        log.warning("webhook: the batch could not be stored at once (%s); storing it element by element", _kind(exc))
    return _store_each(db, update, now)


def _store_at_once(db: Database, update: inbound.Update, now: dt.datetime) -> list[pipeline.Stored]:
    messages = [(message.incoming, message.raw) for message in update.messages]
    if update.statuses or update.preferences or update.account_events:
        with db.unit_of_work() as session:
            stored = pipeline.store_all_received(session.connection(), messages, now)
            for report in campaign_webhooks.apply(session, update, now):  # the rest are the outbox's
                status.apply(session, report, now)
            preferences.apply_all(session, update.preferences, now)
        return stored
    # The common case, messages only: a Core connection, no ORM session to build and flush.
    with db.single_statement() as conn:  # one INSERT: no BEGIN/COMMIT round trips on PostgreSQL
        return pipeline.store_all_received(conn, messages, now)


def _store_each(db: Database, update: inbound.Update, now: dt.datetime) -> list[pipeline.Stored]:
    stored: list[pipeline.Stored] = []
    with db.unit_of_work() as session:
        for index, message in enumerate(update.messages):
            pair = [(message.incoming, message.raw)]
            stored += (
                _guarded(session, f"message {index}", pipeline.store_all_received, session.connection(), pair, now)
                or []
            )
        for index, report in enumerate(update.statuses):
            _guarded(session, f"status {index}", _apply_report, session, report, now)
        for index, event in enumerate(update.account_events):
            _guarded(session, f"account event {index}", campaign_webhooks.apply_event, session, event, now)
        for index, change in enumerate(update.preferences):
            _guarded(session, f"preference {index}", preferences.apply, session, change, now)
    return sorted(stored)


def _apply_report(session: Session, report: inbound.StatusUpdate, now: dt.datetime) -> None:
    if not campaign_webhooks.apply_report(session, report, now):  # a campaign's, or else the outbox's
        status.apply(session, report, now)


def _guarded(session: Session, what: str, work: Callable[..., T], *args: Any) -> T | None:
    """``work(*args)`` in a savepoint: if the database refuses it, only it is undone (and logged)."""
    try:
        with session.begin_nested():
            done = work(*args)
            session.flush()
            return done
    except OUTAGE:
        raise
    except REFUSED as exc:
        log.warning("webhook: %s of the batch dropped: the database refused it (%s)", what, _kind(exc))
        return None


def _kind(exc: Exception) -> str:
    """The error's class, never its text: a driver's message may quote the phone number or the text."""
    return type(exc).__name__
