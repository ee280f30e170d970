"""The Conversation row per phone number: race-safe get-or-create, the 24-hour window, flood counting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.models import Conversation
from bot.statements import insert_ignore

SERVICE_WINDOW = dt.timedelta(hours=24)
FLOOD_LIMIT = 20  # messages per FLOOD_WINDOW; the next one gets the notice
FLOOD_WINDOW = dt.timedelta(minutes=1)
FLOOD_MUTE = dt.timedelta(minutes=10)


def load(session: Session, phone: str, now: dt.datetime) -> Conversation:
    """Get or create the conversation for an E.164 ``phone``, locked until the transaction ends.

    Two workers receiving the first messages of a new number at once both INSERT;
    ON CONFLICT DO NOTHING lets one win without an error, and SELECT ... FOR UPDATE
    (BEGIN IMMEDIATE on SQLite) makes the second wait for the first to commit.
    """
    known = session.identity_map.get(identity_key(Conversation, phone))
    if isinstance(known, Conversation):
        return known
    locked = select(Conversation).where(Conversation.phone == phone).with_for_update()
    found = session.execute(locked).scalar_one_or_none()
    if found is not None:
        return found
    values = {"phone": phone, "state": "start", "data": {}, "updated_at": now, "handoff": False, "flood_count": 0}
    insert_ignore(session, Conversation.__table__, "phone", values, ("phone",))
    return session.execute(locked).scalar_one()


def window_open(conv: Conversation, now: dt.datetime) -> bool:
    """WhatsApp's customer-service window: free-form messages only within 24 h of the last inbound."""
    return conv.last_inbound_at is not None and now - conv.last_inbound_at < SERVICE_WINDOW


def is_muted(conv: Conversation, now: dt.datetime) -> bool:
    return conv.muted_until is not None and now < conv.muted_until


@dataclass(frozen=True)
class Flood:
    """The flood counters after one more message; applied with ``apply_flood`` once the message is handled,
    so the conversation row is written once per message."""

    window_start: dt.datetime | None
    count: int
    muted_until: dt.datetime | None
    crossed: bool


def count_message(conv: Conversation, now: dt.datetime) -> Flood:
    """Count one inbound message; ``crossed`` exactly when this one goes over the flood limit.

    A fixed one-minute window kept on the row itself: no shared counter, so a
    flooding number slows down no one else, and all workers see the same count.
    """
    start, count = conv.flood_window_start, conv.flood_count
    if start is None or now - start >= FLOOD_WINDOW:
        start, count = now, 0
    count += 1
    if count > FLOOD_LIMIT:
        return Flood(None, 0, now + FLOOD_MUTE, crossed=True)
    return Flood(start, count, conv.muted_until, crossed=False)


def apply_flood(conv: Conversation, flood: Flood) -> None:
    conv.flood_window_start, conv.flood_count, conv.muted_until = flood.window_start, flood.count, flood.muted_until
