"""Heartbeats of long-running processes, for /health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(String(200))


def beat(session: Session, name: str, now: dt.datetime, detail: str | None = None) -> None:
    row = session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, beat_at=now, detail=detail))
    else:
        row.beat_at = now
        row.detail = detail


def last_beat(session: Session, name: str) -> Heartbeat | None:
    return session.get(Heartbeat, name)
