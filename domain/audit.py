"""Who changed what, when and why: every manual change writes one row."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import JSON, Index, String, Table, Text, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: object,
    now: dt.datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the entry in the session's transaction, at once: one prebuilt INSERT on its connection, none
    of the ORM's bookkeeping for an object that nothing reads back (every API write makes one). The
    table has no foreign keys, so it need not wait for the session's pending changes."""
    row = {
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "reason": reason,
        "details": details or {},
        "created_at": now,
    }
    session.connection().execute(_INSERT, row)


_INSERT = insert(cast(Table, AuditEntry.__table__))
