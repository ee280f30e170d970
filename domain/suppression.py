"""The suppression list: keyed hashes of erased people's phone numbers and ERP ids, never the values.

Invariants:
- Only erasure adds an entry and only the person joining again by chat removes it (``lift``); the
  ERP sync asks ``is_suppressed`` before it creates or links anyone, so an erased person is not
  brought back by a customer row that is still in the ERP.
- A hash is HMAC-SHA256 under a key the list was built with (``PRIVACY_HASH_KEY``, else
  ``SECRET_KEY``): without the key nobody can test a number against the list, and rotating the
  key empties the list in effect. The key is the caller's (the edges read it from the config).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import String, delete, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime

REASONS = ("erasure", "retention")


class Suppression(Base):
    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    erp_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def keyed_hash(key: str, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``kind:value``: the kind keeps a phone and an ERP id with the same digits apart."""
    if not key:
        raise ValueError("the suppression list needs a key")
    return hmac.new(key.encode(), f"{kind}:{value.strip()}".encode(), hashlib.sha256).hexdigest()


def add(
    session: Session, key: str, *, phone: str, erp_customer_id: str | None, reason: str, now: dt.datetime
) -> Suppression:
    """Suppress an E.164 ``phone`` (and the ERP's id for the person, if any); idempotent per phone."""
    phone_hash = keyed_hash(key, "phone", phone)
    erp_hash = keyed_hash(key, "erp", erp_customer_id) if erp_customer_id else None
    row = session.scalar(select(Suppression).where(Suppression.phone_hash == phone_hash))
    if row is None:
        row = Suppression(phone_hash=phone_hash, reason=reason, created_at=now)
        session.add(row)
    row.erp_id_hash = erp_hash or row.erp_id_hash
    session.flush()
    return row


def is_suppressed(session: Session, key: str, *, phone: str | None = None, erp_customer_id: str | None = None) -> bool:
    """Is this E.164 phone, or this ERP customer id, on the list?"""
    conditions = []
    if phone:
        conditions.append(Suppression.phone_hash == keyed_hash(key, "phone", phone))
    if erp_customer_id:
        conditions.append(Suppression.erp_id_hash == keyed_hash(key, "erp", erp_customer_id))
    if not conditions:
        return False
    return session.scalar(select(Suppression.id).where(or_(*conditions)).limit(1)) is not None


def lift(session: Session, key: str, phone: str) -> bool:
    """The person joined again by chat: the ERP may link them from now on."""
    result = session.execute(delete(Suppression).where(Suppression.phone_hash == keyed_hash(key, "phone", phone)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count(session: Session) -> int:
    return int(session.scalar(select(func.count(Suppression.id))) or 0)
