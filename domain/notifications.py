"""What a customer should be told. ``domain`` records it; ``bot`` delivers it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime

KINDS = (
    "points_earned",
    "tier_changed",
    "points_expiring",
    "voucher_issued",
    "referral_bonus",
    "points_returned",
    "retention_warning",  # an inactive member is about to be erased (``domain.retention``)
    "points_paid",  # a points payment at a till was captured (``domain.holds``)
    "points_released",  # points held for a payment are free again: released by the till, expired, wrong codes
)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # pending -> dispatched (handed to the outbox) | skipped (opted out, ...)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notifications_status_id", "status", "id"),)


def notify(
    session: Session, customer_id: int, kind: str, key: str, payload: dict[str, Any], now: dt.datetime
) -> Notification | None:
    """Record a notification once per ``key``; returns ``None`` if it already exists."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    if session.scalar(select(Notification.id).where(Notification.idempotency_key == key)) is not None:
        return None
    row = Notification(
        customer_id=customer_id, kind=kind, payload=payload, idempotency_key=key, created_at=now, status="pending"
    )
    session.add(row)
    return row


def pending(session: Session, limit: int = 100) -> list[Notification]:
    stmt = select(Notification).where(Notification.status == "pending").order_by(Notification.id).limit(limit)
    return list(session.scalars(stmt))
