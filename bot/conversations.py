"""The Conversation row per phone number: race-safe get-or-create, the 24-hour window, flood counting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.models import Conversation
from bot.statements import insert_ignore, upsert_touch

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


# Everything a message can change; ``phone`` is the key and never changes.
WRITABLE = (
    "customer_id",
    "state",
    "data",
    "language",
    "last_inbound_at",
    "updated_at",
    "handoff",
    "handoff_at",
    "flood_window_start",
    "flood_count",
    "muted_until",
)
_table = cast(Table, Conversation.__table__)
_SAVE = (
    update(_table)
    .where(_table.c.phone == bindparam("b_phone"))
    .values({name: bindparam(f"b_{name}", type_=_table.c[name].type) for name in WRITABLE})
)


def lock(session: Session, phone: str, now: dt.datetime) -> Conversation:
    """The handler's path: get or create the row and lock it in one statement, as a detached copy.

    INSERT ... ON CONFLICT (phone) DO UPDATE ... RETURNING both creates a new number's row
    and takes the row lock of an existing one (a second worker waits until the first
    commits, then reads the committed row, as SELECT ... FOR UPDATE would). The copy is
    not in the session, so changes made while handling are not flushed piecemeal before
    every query: :func:`save` writes them once, in one UPDATE.
    """
    values = {"phone": phone, "state": "start", "data": {}, "updated_at": now, "handoff": False, "flood_count": 0}
    row = upsert_touch(session, _table, "phone", values, tuple(c.name for c in _table.c))
    return Conversation(**row._asdict())


def save(session: Session, conv: Conversation) -> None:
    """Write a copy from :func:`lock` back: one UPDATE, whatever changed."""
    params: dict[str, Any] = {f"b_{name}": getattr(conv, name) for name in WRITABLE}
    params["b_phone"] = conv.phone
    session.execute(_SAVE, params)


def snapshot(conv: Conversation) -> dict[str, Any]:
    """The writable values, to put back with :func:`restore` when a handler's work is undone."""
    return {name: getattr(conv, name) for name in WRITABLE}


def restore(conv: Conversation, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(conv, name, value)


def window_open(conv: Conversation, now: dt.datetime) -> bool:
    """WhatsApp's customer-service window: free-form messages only within 24 h of the last inbound."""
    return conv.last_inbound_at is not None and now - conv.last_inbound_at < SERVICE_WINDOW


def window_open_for(session: Session, phone: str, now: dt.datetime) -> bool:
    """``window_open`` for a chat by its address; a chat that never wrote has no open window."""
    conv = session.get(Conversation, phone)
    return conv is not None and window_open(conv, now)


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
