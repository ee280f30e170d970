"""ERP sync runs and requests to run one now: what the console, the API and /health read about the sync.

The sync itself lives in ``erp/``; these records sit here so that the edges that only report on it or
ask for it (the integration API) need not import the ERP package.

Invariants:
- A ``SyncRun`` is written by ``erp.sync.run`` only: ``running`` until it ends ``ok``, ``failed`` or
  ``skipped`` (another run held the lock; at most one run at a time across hosts, ``erp.lock``).
- A ``SyncRequest`` is ``queued`` until the scheduler's job takes it (``running``), then ``done`` with
  the run it caused. At most one request is queued at a time: asking again while one waits answers the
  waiting one. A request whose run was skipped goes back to ``queued`` and is tried again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain import audit
from domain.db import Base, UTCDateTime
from domain.errors import ValidationError

ENTITIES = ("customers", "products", "orders", "returns")


class SyncRun(Base):
    __tablename__ = "erp_sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # running | ok | failed | skipped
    status: Mapped[str] = mapped_column(String(16), default="running")
    full: Mapped[bool] = mapped_column(default=False)
    entities: Mapped[str] = mapped_column(String(100))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    host: Mapped[str | None] = mapped_column(String(100))


class SyncRequest(Base):
    __tablename__ = "erp_sync_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # queued | running | done
    status: Mapped[str] = mapped_column(String(16))
    full: Mapped[bool] = mapped_column(default=False)
    entities: Mapped[str] = mapped_column(String(100))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_erp_sync_requests_status", "status", "id"),)


def request_sync(
    session: Session, *, actor: str, now: dt.datetime, full: bool = False, entities: tuple[str, ...] = ()
) -> tuple[SyncRequest, bool]:
    """Queue a run for the scheduler; returns the request and whether it is new (else one was waiting)."""
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown:
        raise ValidationError(f"unknown entity {', '.join(unknown)}; choose from {', '.join(ENTITIES)}")
    waiting = session.scalar(
        select(SyncRequest).where(SyncRequest.status == "queued").order_by(SyncRequest.id).with_for_update()
    )
    if waiting is not None:
        return waiting, False
    chosen = [e for e in ENTITIES if e in entities] or list(ENTITIES)
    request = SyncRequest(status="queued", full=full, entities=",".join(chosen), requested_by=actor, requested_at=now)
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="erp.sync_request",
        entity_type="erp_sync_request",
        entity_id=request.id,
        now=now,
        details={"full": full, "entities": chosen},
    )
    return request, True


def take_request(session: Session, now: dt.datetime) -> SyncRequest | None:
    """The oldest queued request, marked running (a conditional UPDATE: one taker wins)."""
    first = session.scalar(select(SyncRequest.id).where(SyncRequest.status == "queued").order_by(SyncRequest.id))
    if first is None:
        return None
    taken = session.execute(
        update(SyncRequest)
        .where(SyncRequest.id == first, SyncRequest.status == "queued")
        .values(status="running", started_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(taken, "rowcount", 0):
        return None
    return session.get(SyncRequest, first, populate_existing=True)


def finish_request(session: Session, request_id: int, run_id: int | None, outcome: str, now: dt.datetime) -> None:
    """Record what the run did; a skipped run (another one held the lock) queues the request again."""
    request = session.get(SyncRequest, request_id, populate_existing=True)
    if request is None:
        return
    if outcome == "skipped":
        request.status, request.started_at = "queued", None
        return
    request.status, request.finished_at, request.run_id, request.outcome = "done", now, run_id, outcome


def recent_runs(session: Session, limit: int = 20) -> list[SyncRun]:
    stmt = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def last_run_per_entity(session: Session, scan: int = 200) -> dict[str, SyncRun]:
    """The newest finished (not skipped) run that covered each entity, among the last ``scan`` runs."""
    found: dict[str, SyncRun] = {}
    stmt = (
        select(SyncRun)
        .where(SyncRun.status.in_(("ok", "failed")))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(scan)
    )
    for run in session.scalars(stmt):
        for entity in run.entities.split(","):
            found.setdefault(entity, run)
        if len(found) == len(ENTITIES):
            break
    return found


def open_requests(session: Session) -> list[SyncRequest]:
    stmt = select(SyncRequest).where(SyncRequest.status.in_(("queued", "running"))).order_by(SyncRequest.id)
    return list(session.scalars(stmt))
