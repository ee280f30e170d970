"""What the console's simulator showed each staff member, kept in the database.

Not in the session cookie: a cookie over 4 KB is silently dropped by browsers,
and a few long bot answers pass that. One row per bubble; only the newest
``KEEP`` per person and test number are read, and older ones are pruned.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime

KEEP = 40


class SimulatorTurn(Base):
    __tablename__ = "simulator_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    who: Mapped[str] = mapped_column(String(8))  # "you" or "bot"
    lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_simulator_turns_staff", "staff_user_id", "phone", "id"),)


def append(
    session: Session, staff_user_id: int, phone: str, bubbles: list[tuple[str, list[str]]], now: dt.datetime
) -> None:
    """Add ``(who, lines)`` bubbles in order, then drop what falls out of the last ``KEEP``."""
    for who, lines in bubbles:
        session.add(SimulatorTurn(staff_user_id=staff_user_id, phone=phone, who=who, lines=lines, created_at=now))
    session.flush()
    keep = select(SimulatorTurn.id).where(_mine(staff_user_id, phone)).order_by(SimulatorTurn.id.desc()).limit(KEEP)
    oldest_kept = min(session.scalars(keep), default=None)
    if oldest_kept is not None:
        session.execute(delete(SimulatorTurn).where(_mine(staff_user_id, phone), SimulatorTurn.id < oldest_kept))


def recent(session: Session, staff_user_id: int, phone: str) -> list[dict[str, Any]]:
    """The last ``KEEP`` bubbles, oldest first, as ``{"who", "lines"}``."""
    stmt = select(SimulatorTurn).where(_mine(staff_user_id, phone)).order_by(SimulatorTurn.id.desc()).limit(KEEP)
    return [{"who": t.who, "lines": list(t.lines)} for t in reversed(list(session.scalars(stmt)))]


def clear(session: Session, staff_user_id: int) -> None:
    session.execute(delete(SimulatorTurn).where(SimulatorTurn.staff_user_id == staff_user_id))


def _mine(staff_user_id: int, phone: str) -> Any:
    return (SimulatorTurn.staff_user_id == staff_user_id) & (SimulatorTurn.phone == phone)
