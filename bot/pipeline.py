"""The one path every inbound message takes: store it, count it, let the engine answer, queue the answers.

All of it is one transaction. The unique ``wa_message_id`` (INSERT ... ON CONFLICT DO
NOTHING) is what makes a redelivered message, even one landing on another worker at
the same moment, a no-op that is still acknowledged with 200.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot import conversations, outbox
from bot.messages import Incoming, Reply
from bot.models import InboundMessage
from bot.statements import insert_ignore
from domain.db import Database

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


def process(
    session: Session,
    incoming: Incoming,
    now: dt.datetime,
    config: Mapping[str, Any],
    raw: Mapping[str, Any] | None = None,
) -> list[outbox.Outgoing]:
    """Store, flood-check and handle one message; the replies come back enqueued (not yet sent)."""
    # Stored as handled straight away: nobody sees the row before this transaction commits,
    # and the rare ignored message is updated below.
    inbound_id = store(session, incoming, now, raw, status="handled")
    if inbound_id is None:
        log.debug("inbound %s is a redelivery; acknowledged", incoming.message_id)
        return []
    conv = conversations.load(session, incoming.phone, now)
    if conversations.is_muted(conv, now):
        return _finish(session, inbound_id, conv, now, "ignored", [], incoming)
    flood = conversations.count_message(conv, now)
    if flood.crossed:
        log.warning("flood: muting a number until %s", flood.muted_until)
        notice = _engine().flood_notice(session, incoming.phone)
        return _finish(session, inbound_id, conv, now, "ignored", [notice], incoming, flood)
    replies = _engine().handle(session, incoming, now, config)
    return _finish(session, inbound_id, conv, now, "handled", replies, incoming, flood)


def _engine() -> Any:
    """CONVERSATION's module, imported late so the transport loads without it."""
    from bot import engine

    return engine


def _finish(
    session: Session,
    inbound_id: int,
    conv: Any,
    now: dt.datetime,
    status: str,
    replies: list[Reply],
    incoming: Incoming,
    flood: conversations.Flood | None = None,
) -> list[outbox.Outgoing]:
    # Set after the engine ran, so the engine saw the previous inbound time (idle reset, window).
    conv.last_inbound_at = now
    if flood is not None:
        conversations.apply_flood(conv, flood)
    if status != "handled":
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
    return enqueue_replies(session, incoming, replies, now, conv.customer_id)


def enqueue_replies(
    session: Session, incoming: Incoming, replies: list[Reply], now: dt.datetime, customer_id: int | None
) -> list[outbox.Outgoing]:
    """Queue the replies already claimed for this process's sender (no second transaction to claim them),
    unless an earlier message to the phone is still unsent: then they queue behind it."""
    if not replies:
        return []
    claim = not outbox.has_pending(session, incoming.phone)
    rows = []
    for index, reply in enumerate(replies):
        key = f"reply:{incoming.message_id}:{index}"
        row = outbox.add(session, incoming.phone, reply, key=key, now=now, customer_id=customer_id, claimed=claim)
        if row is not None:
            rows.append(row)
    return rows


def store(
    session: Session,
    incoming: Incoming,
    now: dt.datetime,
    raw: Mapping[str, Any] | None,
    *,
    status: str,
    error: str | None = None,
) -> int | None:
    """Insert the inbound row; ``None`` if this WhatsApp message id is already stored."""
    values = {
        "wa_message_id": incoming.message_id,
        "phone": incoming.phone,
        "wa_user_id": incoming.wa_user_id,
        "kind": incoming.kind,
        "text": incoming.text,
        "payload": dict(raw or {}),
        "status": status,
        "error": error,
        "received_at": now,
        "handled_at": now if status != "received" else None,
    }
    row = insert_ignore(session, InboundMessage.__table__, "wa_message_id", values, ("id",))
    return int(row.id) if row is not None else None


def record_failure(
    session: Session, incoming: Incoming, now: dt.datetime, error: str, raw: Mapping[str, Any] | None = None
) -> list[outbox.Outgoing]:
    """After a rolled-back attempt: keep the message as failed and tell the customer, not silence."""
    if store(session, incoming, now, raw, status="failed", error=error[:300]) is None:
        return []  # another worker stored it meanwhile
    reply = _apology(session, incoming.phone)
    row = outbox.add(session, incoming.phone, reply, key=f"apology:{incoming.message_id}", now=now)
    return [row] if row is not None else []


def _apology(session: Session, phone: str) -> Reply:
    try:
        apology = getattr(_engine(), "apology", None)
        if apology is not None:
            reply: Reply = apology(session, phone)
            return reply
    except Exception:
        log.exception("could not build the apology in the customer's language")
    return Reply(kind="text", body=APOLOGY)


def receive(
    db: Database, incoming: Incoming, now: dt.datetime, config: Mapping[str, Any], raw: Mapping[str, Any] | None = None
) -> list[outbox.Outgoing]:
    """One transaction for one message; returns what to send after commit.

    A database outage, deadlock or serialization failure propagates (the webhook answers
    500 and Meta redelivers later); any other failure while handling is recorded and
    answered with an apology, so a message that always fails is not redelivered forever.
    """
    try:
        with db.unit_of_work() as session:
            return process(session, incoming, now, config, raw)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("inbound %s: handling failed; stored as failed", incoming.message_id)
        with db.unit_of_work() as session:
            reason = f"{type(exc).__name__}: {exc}"
            return record_failure(session, incoming, now, reason, raw)
