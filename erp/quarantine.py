"""Rows we could not use: kept with the reason and the raw values, never stopping a run.

A row stays open until a later sync applies it (because it was fixed in the
ERP, or what it depended on arrived); then it is marked resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from erp.models import QuarantinedRow

KEY_FIELD = "_key"  # the typed key, so the row can be read again by key


def put(
    session: Session, entity: str, source_key: str, reason: str, raw: dict[str, Any], now: dt.datetime
) -> QuarantinedRow:
    """Record (or refresh) the quarantine entry of one ERP row."""
    row = session.scalar(
        select(QuarantinedRow).where(QuarantinedRow.entity == entity, QuarantinedRow.source_key == source_key)
    )
    if row is None:
        row = QuarantinedRow(entity=entity, source_key=source_key, first_seen_at=now)
        session.add(row)
    row.reason = reason[:300]
    row.raw = raw
    row.last_seen_at = now
    row.resolved_at = None
    return row


def resolve(session: Session, entity: str, source_keys: Iterable[str], now: dt.datetime) -> int:
    """Close the open entries of rows that have now been applied."""
    keys = list(source_keys)
    if not keys:
        return 0
    stmt = (
        update(QuarantinedRow)
        .where(
            QuarantinedRow.entity == entity,
            QuarantinedRow.source_key.in_(keys),
            QuarantinedRow.resolved_at.is_(None),
        )
        .values(resolved_at=now)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def drop(session: Session, entity: str, source_key: str) -> int:
    """Remove the entry of one row altogether (it belongs to an erased person)."""
    stmt = delete(QuarantinedRow).where(QuarantinedRow.entity == entity, QuarantinedRow.source_key == source_key)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def open_rows(session: Session, limit: int = 100, offset: int = 0) -> list[QuarantinedRow]:
    """Unresolved rows, most recently seen first (for ``erp sync`` and the console)."""
    stmt = (
        select(QuarantinedRow)
        .where(QuarantinedRow.resolved_at.is_(None))
        .order_by(QuarantinedRow.last_seen_at.desc(), QuarantinedRow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def open_count(session: Session) -> int:
    return int(session.scalar(select(func.count(QuarantinedRow.id)).where(QuarantinedRow.resolved_at.is_(None))) or 0)


def open_keys(session: Session, entity: str, limit: int, after_id: int = 0) -> list[tuple[int, Any]]:
    """``(id, typed key)`` of open rows of one entity, in id order, for reading them again."""
    stmt = (
        select(QuarantinedRow.id, QuarantinedRow.raw)
        .where(
            QuarantinedRow.entity == entity,
            QuarantinedRow.resolved_at.is_(None),
            QuarantinedRow.id > after_id,
        )
        .order_by(QuarantinedRow.id)
        .limit(limit)
    )
    return [(rid, (raw or {}).get(KEY_FIELD)) for rid, raw in session.execute(stmt)]
