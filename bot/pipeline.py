"""The one path every inbound message takes: store it, count it, let the engine answer, queue the answers.

The webhook stores (``store_received``: the unique ``wa_message_id`` with INSERT ... ON
CONFLICT DO NOTHING makes a redelivered message, even one landing on another worker at
the same moment, a no-op that is still acknowledged with 200) and commits; handling
(``handle_next``: claim, flood check, engine, outbox) is one more transaction per message,
run by ``bot.handling``'s threads or the scheduler's ``handle_stranded`` job.
``process`` does both in the caller's transaction (simulator-style callers and tests).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot import conversations, inbound, outbox
from bot.messages import Incoming, NeedsSavepoint, Reply
from bot.models import Conversation, InboundMessage
from bot.statements import insert_ignore, insert_ignore_many
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
    """Store, flood-check and handle one message in the caller's transaction (simulator, tests)."""
    # Stored as handled straight away: nobody sees the row before this transaction commits,
    # and the rare ignored message is updated below.
    inbound_id = store(session, incoming, now, raw, status="handled")
    if inbound_id is None:
        log.debug("inbound %s is a redelivery; acknowledged", incoming.message_id)
        return []
    return handle(session, inbound_id, incoming, now, config)


def handle(
    session: Session,
    inbound_id: int,
    incoming: Incoming,
    now: dt.datetime,
    config: Mapping[str, Any],
    conv: Conversation | None = None,
    *,
    guarded: bool = True,
) -> list[outbox.Outgoing]:
    """Flood-check and answer a stored message whose row this transaction holds as handled.

    ``conv`` is the conversation locked by ``conversations.lock`` (written back here, in one
    UPDATE); without it the conversation is loaded into the session. ``guarded``: see
    ``bot.engine.handle``.
    """
    detached = conv is not None
    if conv is None:
        conv = conversations.load(session, incoming.phone, now)
    if conversations.is_muted(conv, now):
        return _finish(session, inbound_id, conv, now, "ignored", [], incoming, detached=detached)
    flood = conversations.count_message(conv, now)
    if flood.crossed:
        log.warning("flood: muting a number until %s", flood.muted_until)
        notice = _engine().flood_notice(session, incoming.phone)
        return _finish(session, inbound_id, conv, now, "ignored", [notice], incoming, flood, detached=detached)
    replies = _engine().handle(session, incoming, now, config, conv, guarded=guarded)
    return _finish(session, inbound_id, conv, now, "handled", replies, incoming, flood, detached=detached)


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
    *,
    detached: bool = False,
) -> list[outbox.Outgoing]:
    # Set after the engine ran, so the engine saw the previous inbound time (idle reset, window).
    conv.last_inbound_at = now
    if flood is not None:
        conversations.apply_flood(conv, flood)
    if detached:
        conversations.save(session, conv)
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
    rows: list[outbox.Outgoing] = []
    claim: bool | None = None  # decided by the first reply's INSERT, which checks for unsent rows itself
    for index, reply in enumerate(replies):
        key = f"reply:{incoming.message_id}:{index}"
        if claim is None:
            row = outbox.add_behind_pending(session, incoming.phone, reply, key=key, now=now, customer_id=customer_id)
            claim = row.lease_until is not None if row is not None else not outbox.has_pending(session, incoming.phone)
        else:
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


def _apology(session: Session, phone: str) -> Reply:
    try:
        apology = getattr(_engine(), "apology", None)
        if apology is not None:
            reply: Reply = apology(session, phone)
            return reply
    except Exception:
        log.exception("could not build the apology in the customer's language")
    return Reply(kind="text", body=APOLOGY)


# --- stored first, handled right after (the webhook's path) ------------------------------------
#
# The webhook only stores each message (status ``received``) and answers 200; a handler
# thread of the same process then claims and handles it (``handle_next``), and the
# scheduler's ``handle_stranded`` job takes any row still ``received`` after a while
# (a worker that died, a database outage mid-handling). Claiming is one conditional
# UPDATE inside the handling transaction: it rolls back with the handling, and a second
# claimer waits on the row (and on the conversation's lock) and then finds it taken.

PROFILE_KEY = "_profile_name"  # kept beside the raw message: Meta sends it in contacts[], not in the message


@dataclass(frozen=True, order=True)
class Stored:
    """A message stored as ``received``: what a handler thread needs to find it."""

    inbound_id: int
    phone: str


def store_received(
    session: Session, incoming: Incoming, now: dt.datetime, raw: Mapping[str, Any] | None = None
) -> Stored | None:
    """Store one message for handling; ``None`` for a redelivery (already stored)."""
    stored = store_all_received(session.connection(), [(incoming, raw)], now)
    return stored[0] if stored else None


def store_all_received(
    conn: Connection, messages: Sequence[tuple[Incoming, Mapping[str, Any] | None]], now: dt.datetime
) -> list[Stored]:
    """Store a payload's messages for handling with one prebuilt INSERT on a Core connection (the
    webhook's request path: no ORM session); redeliveries (already stored) are left out."""
    if not messages:
        return []
    rows = [_received_values(incoming, now, raw) for incoming, raw in messages]
    found = insert_ignore_many(conn, _inbound, "wa_message_id", rows, ("id", "phone"))
    return sorted(Stored(int(row.id), row.phone) for row in found)


def _received_values(incoming: Incoming, now: dt.datetime, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    payload = dict(raw or {})
    if incoming.profile_name:
        payload[PROFILE_KEY] = incoming.profile_name
    return {
        "wa_message_id": incoming.message_id,
        "phone": incoming.phone,
        "wa_user_id": incoming.wa_user_id,
        "kind": incoming.kind,
        "text": incoming.text,
        "payload": payload,
        "status": "received",
        "error": None,
        "received_at": now,
        "handled_at": None,
    }


_inbound = InboundMessage.__table__
_oldest_received = (
    select(_inbound.c.id)
    .where(
        _inbound.c.phone == bindparam("b_phone"),
        _inbound.c.status == "received",
        _inbound.c.id <= bindparam("b_upto"),
    )
    .order_by(_inbound.c.id)
    .limit(1)
    .scalar_subquery()
)
_CLAIM = (
    update(_inbound)
    .where(_inbound.c.id == _oldest_received, _inbound.c.status == "received")
    .values(status="handled", handled_at=bindparam("b_now"))
    .returning(
        _inbound.c.id,
        _inbound.c.wa_message_id,
        _inbound.c.phone,
        _inbound.c.wa_user_id,
        _inbound.c.kind,
        _inbound.c.text,
        _inbound.c.payload,
    )
)


def claim_next(session: Session, phone: str, upto: int, now: dt.datetime) -> tuple[int, Incoming] | None:
    """Take the phone's oldest unhandled message (id <= ``upto``), so a phone's messages are answered
    in the order they were stored, whichever worker stored them."""
    row = session.execute(_CLAIM, {"b_phone": phone, "b_upto": upto, "b_now": now}).first()
    if row is None:
        return None
    payload = row.payload or {}
    incoming = inbound.from_stored(
        row.wa_message_id, row.phone, row.kind, row.text, payload, row.wa_user_id, payload.get(PROFILE_KEY)
    )
    return int(row.id), incoming


def handle_next(
    db: Database, phone: str, upto: int, now: dt.datetime, config: Mapping[str, Any]
) -> tuple[int | None, list[outbox.Outgoing]]:
    """Claim and handle the phone's oldest stored message in one transaction.

    Returns the id handled (``None`` when nothing was left) and the replies to send after
    commit. A database outage propagates and leaves the row ``received`` for the retry
    job; any other failure is recorded as failed and answered with an apology.
    """
    claimed: list[tuple[int, Incoming]] = []
    try:
        try:
            with db.unit_of_work() as session:
                return _claim_and_handle(session, phone, upto, now, config, claimed, guarded=False)
        except NeedsSavepoint:
            # Rolled back whole; the rare message whose handler failed runs again in a savepoint.
            claimed.clear()
            with db.unit_of_work() as session:
                return _claim_and_handle(session, phone, upto, now, config, claimed, guarded=True)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        if not claimed:
            raise
        inbound_id, incoming = claimed[0]
        log.exception("inbound %s: handling failed; stored as failed", incoming.message_id)
        with db.unit_of_work() as session:
            return inbound_id, fail_stored(session, inbound_id, incoming, now, f"{type(exc).__name__}: {exc}")


def _claim_and_handle(
    session: Session,
    phone: str,
    upto: int,
    now: dt.datetime,
    config: Mapping[str, Any],
    claimed: list[tuple[int, Incoming]],
    *,
    guarded: bool,
) -> tuple[int | None, list[outbox.Outgoing]]:
    # The phone's lock first: one handler per phone at a time.
    conv = conversations.lock(session, phone, now)
    found = claim_next(session, phone, upto, now)
    if found is None:
        return None, []
    claimed.append(found)
    return found[0], handle(session, found[0], found[1], now, config, conv, guarded=guarded)


def handle_through(db: Database, stored: Stored, now: dt.datetime, config: Mapping[str, Any]) -> list[outbox.Outgoing]:
    """Handle ``stored`` and any older message of its phone still waiting, oldest first."""
    out: list[outbox.Outgoing] = []
    while True:
        handled, rows = handle_next(db, stored.phone, stored.inbound_id, now, config)
        out += rows
        if handled is None or handled >= stored.inbound_id:
            return out


def handle_batch(
    db: Database, items: Sequence[Stored], now: dt.datetime, config: Mapping[str, Any]
) -> list[outbox.Outgoing]:
    """Handle several stored messages (and older ones of their phones) in one transaction.

    A handler thread with a backlog takes what is queued at once: one commit, one session
    and one batch of replies to send instead of one of each per message. Phones are taken
    in a fixed order, so two batches never wait for each other's conversation locks in a
    cycle. If anything in the batch fails (a domain error, a deadlock with another writer,
    a bug), the batch is rolled back and each phone is handled on its own by
    :func:`handle_through`, whose errors are dealt with message by message.
    """
    upto: dict[str, int] = {}
    for item in items:
        upto[item.phone] = max(upto.get(item.phone, 0), item.inbound_id)
    if len(upto) > 1:
        try:
            with db.unit_of_work() as session:
                return [
                    row for phone in sorted(upto) for row in _handle_phone(session, phone, upto[phone], now, config)
                ]
        except Exception:
            log.info("a batch of %d phones failed; handling them one by one", len(upto), exc_info=True)
    return [row for phone in sorted(upto) for row in handle_through(db, Stored(upto[phone], phone), now, config)]


def _handle_phone(
    session: Session, phone: str, upto: int, now: dt.datetime, config: Mapping[str, Any]
) -> list[outbox.Outgoing]:
    out: list[outbox.Outgoing] = []
    while True:
        handled, rows = _claim_and_handle(session, phone, upto, now, config, [], guarded=False)
        out += rows
        if handled is None or handled >= upto:
            return out


def fail_stored(
    session: Session, inbound_id: int, incoming: Incoming, now: dt.datetime, error: str
) -> list[outbox.Outgoing]:
    """After a rolled-back attempt: mark the stored message failed and tell the customer."""
    stmt = (
        update(_inbound)
        .where(_inbound.c.id == inbound_id, _inbound.c.status == "received")
        .values(status="failed", error=error[:300], handled_at=now)
        .returning(_inbound.c.id)
    )
    if session.execute(stmt).first() is None:
        return []  # someone else handled it meanwhile
    reply = _apology(session, incoming.phone)
    row = outbox.add(session, incoming.phone, reply, key=f"apology:{incoming.message_id}", now=now)
    return [row] if row is not None else []


def stranded(session: Session, older_than: dt.datetime, limit: int = 200) -> list[Stored]:
    """Phones with messages still ``received`` since before ``older_than``, each with its newest such id."""
    stmt = (
        select(_inbound.c.phone, func.max(_inbound.c.id))
        .where(_inbound.c.status == "received", _inbound.c.received_at <= older_than)
        .group_by(_inbound.c.phone)
        .order_by(func.min(_inbound.c.id))
        .limit(limit)
    )
    return [Stored(int(upto), phone) for phone, upto in session.execute(stmt).all()]
