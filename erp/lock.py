"""At most one sync at a time, across processes and hosts.

PostgreSQL: a session-level advisory lock, held by one connection for the whole
run and released by the server if the process dies. SQLite (one host, several
processes): a lease row with an expiry, renewed after every batch, so a crashed
holder blocks others only until its lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, text
from sqlalchemy.engine import Connection

from domain.db import Database
from erp.models import SyncLease

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x4C4F59414C5459  # "LOYALTY": one fixed key for the ERP sync
LEASE_NAME = "erp_sync"
LEASE_TTL = dt.timedelta(minutes=15)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Held:
    """A lock that is held; ``renew`` keeps a lease alive during a long run."""

    def __init__(self, renew: Callable[[], None]) -> None:
        self.renew = renew


@contextmanager
def exclusive(db: Database, holder: str, now: Callable[[], dt.datetime]) -> Iterator[Held | None]:
    """Yields a ``Held`` when this caller got the lock, ``None`` when another sync holds it."""
    if db.is_postgresql:
        with _advisory(db) as got:
            yield Held(lambda: None) if got else None
        return
    with _lease(db, holder, now) as held:
        yield held


@contextmanager
def _advisory(db: Database) -> Iterator[bool]:
    conn = db.engine.connect()
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                _unlock(conn)
    finally:
        conn.close()


def _unlock(conn: Connection) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        conn.commit()
    except Exception:  # a dead connection has released the lock already
        log.warning("could not release the ERP sync lock; dropping the connection instead", exc_info=True)
        conn.invalidate()


@contextmanager
def _lease(db: Database, holder: str, now: Callable[[], dt.datetime]) -> Iterator[Held | None]:
    if not _take_lease(db, holder, now()):
        yield None
        return

    def renew() -> None:
        _take_lease(db, holder, now())

    try:
        yield Held(renew)
    finally:
        with db.unit_of_work() as session:
            session.execute(delete(SyncLease).where(SyncLease.name == LEASE_NAME, SyncLease.holder == holder))


def _take_lease(db: Database, holder: str, moment: dt.datetime) -> bool:
    """Take or renew the lease unless someone else holds one that has not expired."""
    with db.unit_of_work() as session:
        lease = session.get(SyncLease, LEASE_NAME, with_for_update=True)
        if lease is not None and lease.holder != holder and lease.expires_at > moment:
            return False
        if lease is None:
            session.add(SyncLease(name=LEASE_NAME, holder=holder, expires_at=moment + LEASE_TTL))
        else:
            lease.holder, lease.expires_at = holder, moment + LEASE_TTL
    return True
