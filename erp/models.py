"""Sync bookkeeping: watermarks, quarantined rows, the lease; runs are ``domain.sync_runs.SyncRun``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime
from domain.sync_runs import SyncRun as SyncRun  # the run records are read outside erp/ too


class SyncWatermark(Base):
    """Where the last committed batch of an entity ended: change column value plus key."""

    __tablename__ = "erp_watermarks"

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    changed_at: Mapped[str | None] = mapped_column(String(64))
    last_key: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class QuarantinedRow(Base):
    """A row we could not use, with why and what it held; fixed rows are picked up again."""

    __tablename__ = "erp_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("entity", "source_key"),)


class SyncLease(Base):
    """Who holds the sync, until when: the cross-host lock where advisory locks are unavailable (SQLite)."""

    __tablename__ = "erp_sync_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
