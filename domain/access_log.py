"""Who on the staff looked at whose data: one row per view of a customer page, export or erasure.

Rows name the member by id only (never the phone or name, which an erasure removes), and are
kept ``PrivacySettings.access_log_days`` (a year by default), then purged by the scheduler.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime

ACTIONS = ("view", "export", "erase", "consent")


class AccessLogEntry(Base):
    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_access_log_staff_at", "staff", "at"),)


def record(session: Session, *, staff: str, customer_id: int, action: str, now: dt.datetime) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown access log action {action}")
    session.add(AccessLogEntry(staff=staff, customer_id=customer_id, action=action, at=now))


def entries(
    session: Session, *, customer_id: int | None = None, staff: str = "", limit: int = 50, offset: int = 0
) -> list[AccessLogEntry]:
    """Newest first, optionally for one member or one staff member."""
    stmt = select(AccessLogEntry)
    if customer_id is not None:
        stmt = stmt.where(AccessLogEntry.customer_id == customer_id)
    if staff:
        stmt = stmt.where(AccessLogEntry.staff == staff.strip().lower())
    stmt = stmt.order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def purge(session: Session, before: dt.datetime) -> int:
    """Drop rows older than ``before``; returns how many."""
    result = session.execute(delete(AccessLogEntry).where(AccessLogEntry.at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
