"""Stored answers to requests that carried an ``Idempotency-Key``, so a retry gets the first answer.

Invariants:
- One row per (holder, key): the holder is whoever authenticated (an API key, a staff member), so two
  clients never see each other's answers, and a key means the same request everywhere the holder uses it.
- A row is ``in_progress`` from the claim until the request's own unit of work stores the answer
  (``complete``, in the same transaction as the work: the effect and its answer commit together), or it
  is deleted when the request failed without effect (``release``). A claim whose lease ran out (its
  process died) may be taken over by the next retry with the same fingerprint.
- The fingerprint is a hash of method, path and the canonical JSON body: the same key with another
  fingerprint is refused, never answered with the other request's answer.
- Rows are kept at least ``KEEP`` (24 hours) and then purged.

Claims are committed in their own short transaction before the work starts, so that a concurrent
retry sees the claim (and is told the first is still in progress) instead of doing the work again.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime

KEEP = dt.timedelta(hours=48)
LEASE = dt.timedelta(seconds=60)
MAX_KEY_LENGTH = 255


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # in_progress | done
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("holder", "key"),
        Index("ix_idempotent_requests_created_at", "created_at"),
    )


class Claimed(enum.Enum):
    NEW = "new"  # go ahead; store the answer with ``complete``
    REPLAY = "replay"  # answered before: send ``row``'s answer again
    REUSED = "reused"  # the key was used for another request
    IN_PROGRESS = "in_progress"  # the first request with this key has not finished


@dataclass(frozen=True)
class Claim:
    outcome: Claimed
    row_id: int
    response_status: int | None = None
    response_body: str | None = None


def claim(session: Session, holder: str, key: str, fingerprint: str, now: dt.datetime) -> Claim:
    """Take the key for this request, or say why not; the caller commits at once."""
    values = {
        "holder": holder,
        "key": key,
        "fingerprint": fingerprint,
        "status": "in_progress",
        "created_at": now,
        "lease_until": now + LEASE,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(IdempotentRequest)
        .values(values)
        .on_conflict_do_nothing(index_elements=["holder", "key"])
        .returning(IdempotentRequest.id)
    )
    new_id = session.scalar(stmt)
    if new_id is not None:
        return Claim(Claimed.NEW, new_id)
    row = session.scalar(
        select(IdempotentRequest).where(IdempotentRequest.holder == holder, IdempotentRequest.key == key)
    )
    if row is None:  # purged between the two statements: a fresh start is right
        return claim(session, holder, key, fingerprint, now)
    if row.fingerprint != fingerprint:
        return Claim(Claimed.REUSED, row.id)
    if row.status == "done":
        return Claim(Claimed.REPLAY, row.id, row.response_status, row.response_body)
    if row.lease_until <= now and _take_over(session, row.id, now):
        return Claim(Claimed.NEW, row.id)
    return Claim(Claimed.IN_PROGRESS, row.id)


def _take_over(session: Session, row_id: int, now: dt.datetime) -> bool:
    """A claim whose process died: the first retry to get here takes it (one conditional UPDATE)."""
    result = session.execute(
        update(IdempotentRequest)
        .where(
            IdempotentRequest.id == row_id,
            IdempotentRequest.status == "in_progress",
            IdempotentRequest.lease_until <= now,
        )
        .values(lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def complete(session: Session, row_id: int, status: int, body: str) -> None:
    """Store the answer; call it inside the request's own unit of work."""
    session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == row_id)
        .values(status="done", response_status=status, response_body=body)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, row_id: int) -> None:
    """The request failed without effect: forget the claim so that a retry does the work."""
    session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.id == row_id, IdempotentRequest.status == "in_progress")
    )


def purge(session: Session, now: dt.datetime, batch: int = 1000) -> int:
    """Delete one batch of answers older than ``KEEP``; returns how many."""
    ids = list(
        session.scalars(
            select(IdempotentRequest.id)
            .where(IdempotentRequest.created_at < now - KEEP)
            .order_by(IdempotentRequest.id)
            .limit(batch)
        )
    )
    if ids:
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(ids)))
    return len(ids)
