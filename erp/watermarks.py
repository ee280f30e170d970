"""Where each entity's sync got to: the ``(change column, key)`` of the last committed row.

Values are stored as tagged text (``i:42``, ``t:2026-06-01T10:00:00``) so that
they go back to the ERP with the type they came with: comparing an integer
column with a text parameter fails or misorders on some databases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from erp.models import SyncWatermark

Mark = tuple[Any, Any]


def encode(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return f"i:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, Decimal):
        return f"n:{value}"
    if isinstance(value, dt.datetime):
        return f"t:{value.isoformat()}"
    if isinstance(value, dt.date):
        return f"d:{value.isoformat()}"
    if isinstance(value, bytes | bytearray):
        return f"b:{bytes(value).hex()}"
    return f"s:{value}"


def decode(text: str | None) -> Any:
    if text is None:
        return None
    tag, _, body = text.partition(":")
    decoders: dict[str, Any] = {
        "i": int,
        "n": Decimal,
        "t": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "b": bytes.fromhex,
        "s": str,
    }
    return decoders[tag](body)


def load(session: Session, entity: str) -> Mark | None:
    row = session.get(SyncWatermark, entity)
    if row is None or row.changed_at is None:
        return None
    return decode(row.changed_at), decode(row.last_key)


def save(session: Session, entity: str, mark: Mark, now: dt.datetime) -> None:
    """Move the watermark; called inside the batch's own transaction, so it moves only if the batch commits."""
    changed, key = encode(mark[0]), encode(mark[1])
    if len(changed or "") > 64 or len(key or "") > 64:
        raise ValueError(f"{entity}: watermark values longer than 64 characters cannot be stored")
    row = session.get(SyncWatermark, entity)
    if row is None:
        session.add(SyncWatermark(entity=entity, changed_at=changed, last_key=key, updated_at=now))
        return
    row.changed_at, row.last_key, row.updated_at = changed, key, now


def reset(session: Session, entity: str) -> None:
    session.execute(delete(SyncWatermark).where(SyncWatermark.entity == entity))
