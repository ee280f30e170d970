"""The bot's share of privacy: its messages in a member's export, forgotten on erasure, purged with age.

- ``export_messages``: every message both ways with the member's number (a section of the export).
- ``forget``: on erasure, the conversation row goes; inbound rows and outbox rows keep only what
  delivery statistics need (kind, status, times, error code) under the member's stand-in number.
- The last reply of a chat erasure ("your data is erased") must still reach the real number, so
  its row is queued after the forgetting; ``scrub_farewells`` anonymises it the moment it has been
  sent (the sender calls it; it costs nothing unless an erasure happened in this process), and
  ``scrub_leftovers`` (scheduled) catches one sent from another process.
- ``purge_bodies``: message texts and payloads older than the retention period are removed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.models import Conversation, InboundMessage, OutboxMessage
from domain import data_export, erasure
from domain.customers import ERASED_PHONE_PREFIX, Customer, erased_phone
from domain.erasure import Erased

PENDING = ("queued", "sending")
_farewells: set[int] = set()  # members erased in this process whose last reply may still be sent
_farewells_lock = threading.Lock()


def register() -> None:
    erasure.register("bot", forget)
    data_export.register("messages", export_messages)


def export_messages(session: Session, customer: Customer) -> list[dict[str, Any]]:
    inbound = session.scalars(
        select(InboundMessage).where(InboundMessage.phone == customer.phone).order_by(InboundMessage.id)
    )
    outbound = session.scalars(
        select(OutboxMessage)
        .where(or_(OutboxMessage.phone == customer.phone, OutboxMessage.customer_id == customer.id))
        .order_by(OutboxMessage.id)
    )
    rows: list[tuple[dt.datetime, str, str, str | None, str]] = [
        (m.received_at, "from you", m.kind, m.text, m.status) for m in inbound
    ]
    rows += [(m.created_at, "to you", m.kind, _body(m), m.status) for m in outbound]
    rows.sort(key=lambda r: (r[0], r[1]))
    return [
        {"at": at.astimezone(dt.UTC).isoformat(timespec="seconds"), "direction": d, "kind": k, "text": x, "status": st}
        for at, d, k, x, st in rows
    ]


def _body(row: OutboxMessage) -> str | None:
    payload = row.payload or {}
    return str(payload.get("body") or payload.get("name") or "") or None


def forget(session: Session, person: Erased) -> None:
    _forget_conversation(session, person.phone)
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.phone == person.phone)
        .values(phone=person.token, wa_user_id=None, text=None, payload={}, error=None)
        .execution_options(synchronize_session=False)
    )
    theirs = or_(OutboxMessage.phone == person.phone, OutboxMessage.customer_id == person.customer_id)
    session.execute(
        update(OutboxMessage)
        .where(theirs, OutboxMessage.status.in_(PENDING))
        .values(status="failed", error_code="erased", failed_at=person.at)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(theirs)
        .values(phone=person.token, payload={}, error=None)
        .execution_options(synchronize_session=False)
    )
    with _farewells_lock:
        _farewells.add(person.customer_id)


def _forget_conversation(session: Session, phone: str) -> None:
    """Delete the row; if this very message's handling holds it in the session, through the session."""
    held = session.identity_map.get(identity_key(Conversation, phone))
    if isinstance(held, Conversation):
        session.delete(held)
        session.flush()
        return
    session.execute(delete(Conversation).where(Conversation.phone == phone))


def scrub_farewells(session: Session, ids: Sequence[int]) -> int:
    """Called by the sender after recording a batch: anonymise what was just sent to a member erased meanwhile."""
    if not _farewells or not ids:
        return 0
    with _farewells_lock:
        waiting = set(_farewells)
    done = _scrub(session, OutboxMessage.id.in_(list(ids)), OutboxMessage.customer_id.in_(waiting))
    left = set(
        session.scalars(
            select(OutboxMessage.customer_id).where(
                OutboxMessage.customer_id.in_(waiting), ~OutboxMessage.phone.startswith(ERASED_PHONE_PREFIX)
            )
        )
    )
    with _farewells_lock:
        _farewells.difference_update(waiting - left)
    return done


def _scrub(session: Session, *where: Any) -> int:
    """Sent rows of erased members still under the real number: the stand-in, no payload."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.customer_id)
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .where(
            *where,
            Customer.erased_at.is_not(None),
            ~OutboxMessage.phone.startswith(ERASED_PHONE_PREFIX),
            OutboxMessage.status.not_in(PENDING),
        )
        .limit(1000)
    )
    rows = session.execute(stmt).all()
    for row_id, customer_id in rows:
        if customer_id is None:  # joined to a customer: never, but the column allows it
            continue
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(phone=erased_phone(customer_id), payload={}, error=None)
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def scrub_leftovers(session: Session) -> int:
    """The same for rows sent by another process's sender (the scheduler's retry job)."""
    return _scrub(session)


def purge_bodies(session: Session, before: dt.datetime, batch: int = 1000) -> int:
    """Texts and payloads of messages older than ``before``; status, kind and times stay for statistics."""
    inbound_ids = list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.received_at < before, InboundMessage.status != "received")
            .where(or_(InboundMessage.text.is_not(None), cast(InboundMessage.payload, String) != "{}"))
            .limit(batch)
        )
    )
    outbox_ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.created_at < before, OutboxMessage.status.not_in(PENDING))
            .where(cast(OutboxMessage.payload, String) != "{}")
            .limit(batch)
        )
    )
    if inbound_ids:
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id.in_(inbound_ids))
            .values(text=None, payload={})
            .execution_options(synchronize_session=False)
        )
    if outbox_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(outbox_ids))
            .values(payload={})
            .execution_options(synchronize_session=False)
        )
    return len(inbound_ids) + len(outbox_ids)


# Registered on import: whoever can write the bot's tables has loaded this module, so an erasure
# anywhere (chat, console, CLI, a job) forgets the bot's data too.
register()
