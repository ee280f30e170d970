"""The one path every inbound message takes, declared here in its order:

1. **store**, in the webhook's request: ``store_all_received`` inserts the payload's messages as
   ``received`` and commits. The unique ``wa_message_id`` with INSERT ... ON CONFLICT DO NOTHING
   makes a redelivered message, even one landing on another worker at the same moment, a no-op
   that is still acknowledged with 200.
2. **claim**, in the handling transaction: ``claim_next`` locks the phone's conversation, then
   takes its oldest stored message with one conditional UPDATE. The claim rolls back with the
   handling, and a second claimer waits on the conversation's lock, then finds the message taken.
3. **flood check**: a muted number's message is only stored; the one over the limit gets a notice.
4. **engine**: ``bot.engine`` answers.
5. **outbox**: the replies are queued, already claimed for this process's sender.

``handle`` is stages 3 to 5. After it come the transactions around stages 2 to 5:
``handle_next`` (one message, retried in a savepoint, a failure answered with an apology),
``handle_through`` (a phone's messages one transaction each) and ``handle_batch`` (several phones
in one transaction), run by ``bot.handling``'s threads or by the scheduler's ``handle_stranded``
job, which takes any message still ``received`` after a while (a worker that died, a database
outage mid-handling). ``process`` runs all five in the caller's transaction (simulator-style
callers and tests).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from bot import conversations, inbound, outbox
from bot.messages import Incoming, NeedsSavepoint, Reply, Template
from bot.models import Conversation, InboundMessage
from bot.statements import insert_ignore, insert_ignore_many
from domain import campaign_results
from domain.db import Database

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
PROFILE_KEY = "_profile_name"  # kept beside the raw message: Meta sends it in contacts[], not in the message

_inbound = cast(Table, InboundMessage.__table__)


# --- 1. store -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Stored:
    """A message stored as ``received``: what a handler thread needs to find it."""

    inbound_id: int
    phone: str


def store_all_received(
    conn: Connection, messages: Sequence[tuple[Incoming, Mapping[str, Any] | None]], now: dt.datetime
) -> list[Stored]:
    """Store a payload's messages for handling with one prebuilt INSERT on a Core connection (the
    webhook's request path: no ORM session); redeliveries (already stored) are left out."""
    if not messages:
        return []
    rows = [_values(incoming, now, raw, "received") for incoming, raw in messages]
    found = insert_ignore_many(conn, _inbound, "wa_message_id", rows, ("id", "phone"))
    return sorted(Stored(int(row.id), row.phone) for row in found)


def store_received(
    session: Session, incoming: Incoming, now: dt.datetime, raw: Mapping[str, Any] | None = None
) -> Stored | None:
    """Store one message for handling; ``None`` for a redelivery (already stored)."""
    stored = store_all_received(session.connection(), [(incoming, raw)], now)
    return stored[0] if stored else None


def _values(incoming: Incoming, now: dt.datetime, raw: Mapping[str, Any] | None, status: str) -> dict[str, Any]:
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
        "status": status,
        "error": None,
        "received_at": now,
        "handled_at": now if status != "received" else None,
    }


# --- 2. claim -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A stored message this transaction took, with its phone's conversation locked."""

    inbound_id: int
    incoming: Incoming
    conv: Conversation


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


def claim_next(session: Session, phone: str, upto: int, now: dt.datetime) -> Claimed | None:
    """Lock the phone's conversation, then take its oldest unhandled message (id <= ``upto``), so a
    phone's messages are answered one at a time, in the order they were stored, whichever worker
    stored them."""
    conv = conversations.lock(session, phone, now)
    row = session.execute(_CLAIM, {"b_phone": phone, "b_upto": upto, "b_now": now}).first()
    if row is None:
        return None
    payload = row.payload or {}
    incoming = inbound.from_stored(
        row.wa_message_id, row.phone, row.kind, row.text, payload, row.wa_user_id, payload.get(PROFILE_KEY)
    )
    return Claimed(int(row.id), incoming, conv)


# --- 3. flood check, 4. engine, 5. outbox -------------------------------------------------------


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
    """Flood-check and answer a stored message whose row this transaction holds as handled; queue the replies.

    ``conv`` is the conversation locked by ``claim_next`` (written back here, in one UPDATE);
    without it the conversation is loaded into the session. ``guarded``: see ``bot.engine.handle``.
    """
    detached = conv is not None
    if conv is None:
        conv = conversations.load(session, incoming.phone, now)
    flood: conversations.Flood | None = None
    replies: list[Reply] = []
    if conversations.is_muted(conv, now):
        status = "ignored"
    else:
        flood = conversations.count_message(conv, now)
        if flood.crossed:
            log.warning("flood: muting a number until %s", flood.muted_until)
            status, replies = "ignored", [_engine().flood_notice(session, incoming.phone)]
        else:
            status, replies = "handled", _engine().handle(session, incoming, now, config, conv, guarded=guarded)
    # Set after the engine ran, so the engine saw the previous inbound time (idle reset, window).
    conv.last_inbound_at = now
    if flood is not None:
        conversations.apply_flood(conv, flood)
    if detached:
        conversations.save(session, conv)
    if conv.customer_id is not None:  # a reply to any campaign message of the last few days
        campaign_results.note_reply(session, conv.customer_id, now)
    if status != "handled":
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
    return enqueue_replies(session, incoming, replies, now, conv.customer_id)


def _engine() -> Any:
    """CONVERSATION's module, imported late so the transport loads without it."""
    from bot import engine

    return engine


def enqueue_replies(
    session: Session, incoming: Incoming, replies: list[Reply], now: dt.datetime, customer_id: int | None
) -> list[outbox.Outgoing]:
    """Queue the replies already claimed for this process's sender (no second transaction to claim them),
    unless an earlier message to the phone is still unsent: then they queue behind it."""
    rows: list[outbox.Outgoing] = []
    claim: bool | None = None  # decided by the first reply's INSERT, which checks for unsent rows itself
    for index, reply in enumerate(replies):
        key = f"reply:{incoming.message_id}:{index}"
        if reply.to is not None and reply.to != incoming.phone:
            row = _elsewhere(session, reply, key, now)
        elif claim is None:
            row = outbox.add_behind_pending(session, incoming.phone, reply, key=key, now=now, customer_id=customer_id)
            claim = row.lease_until is not None if row is not None else not outbox.has_pending(session, incoming.phone)
        else:
            row = outbox.add(session, incoming.phone, reply, key=key, now=now, customer_id=customer_id, claimed=claim)
        if row is not None:
            rows.append(row)
    return rows


def _elsewhere(session: Session, reply: Reply, key: str, now: dt.datetime) -> outbox.Outgoing | None:
    """A reply to another chat (``Reply.to``): queued unclaimed, so the after-commit sender claims it
    behind anything already waiting for that chat."""
    assert reply.to is not None
    message: Reply | Template = dataclasses.replace(reply, to=None, outside_window=None)
    if reply.outside_window is not None and not conversations.window_open_for(session, reply.to, now):
        message = reply.outside_window  # Meta refuses free text to a chat whose 24-hour window is closed
    return outbox.add(session, reply.to, message, key=key, now=now)


# --- the transactions around stages 2 to 5 ------------------------------------------------------


def _claim_and_handle(
    session: Session,
    phone: str,
    upto: int,
    now: dt.datetime,
    config: Mapping[str, Any],
    claimed: list[Claimed],
    *,
    guarded: bool,
) -> tuple[int | None, list[outbox.Outgoing]]:
    """Stages 2 to 5 for the phone's next message in ``session``; what was claimed goes on ``claimed``."""
    found = claim_next(session, phone, upto, now)
    if found is None:
        return None, []
    claimed.append(found)
    return found.inbound_id, handle(session, found.inbound_id, found.incoming, now, config, found.conv, guarded=guarded)


def handle_next(
    db: Database, phone: str, upto: int, now: dt.datetime, config: Mapping[str, Any]
) -> tuple[int | None, list[outbox.Outgoing]]:
    """Claim and handle the phone's oldest stored message in one transaction.

    Returns the id handled (``None`` when nothing was left) and the replies to send after
    commit. A database outage propagates and leaves the row ``received`` for the retry
    job; any other failure is recorded as failed and answered with an apology.
    """
    claimed: list[Claimed] = []
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
        failed, error = claimed[0], f"{type(exc).__name__}: {exc}"
        log.exception("inbound %s: handling failed; stored as failed", failed.incoming.message_id)
        with db.unit_of_work() as session:
            return failed.inbound_id, fail_stored(session, failed.inbound_id, failed.incoming, now, error)


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


def _apology(session: Session, phone: str) -> Reply:
    try:
        apology = getattr(_engine(), "apology", None)
        if apology is not None:
            reply: Reply = apology(session, phone)
            return reply
    except Exception:
        log.exception("could not build the apology in the customer's language")
    return Reply(kind="text", body=APOLOGY)


def handle_through(db: Database, stored: Stored, now: dt.datetime, config: Mapping[str, Any]) -> list[outbox.Outgoing]:
    """Handle ``stored`` and any older message of its phone still waiting, oldest first, one transaction each."""
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
    """A phone's messages up to ``upto``, oldest first, in the batch's transaction (unguarded: any error
    fails the batch)."""
    out: list[outbox.Outgoing] = []
    while True:
        handled, rows = _claim_and_handle(session, phone, upto, now, config, [], guarded=False)
        out += rows
        if handled is None or handled >= upto:
            return out


# --- all five in the caller's transaction, and the retry job's look-up ---------------------------


def process(
    session: Session,
    incoming: Incoming,
    now: dt.datetime,
    config: Mapping[str, Any],
    raw: Mapping[str, Any] | None = None,
) -> list[outbox.Outgoing]:
    """Store, flood-check and handle one message in the caller's transaction (simulator, tests)."""
    # Stored as handled straight away: nobody sees the row before this transaction commits,
    # and the rare ignored message is updated by ``handle``.
    values = _values(incoming, now, raw, "handled")
    row = insert_ignore(session, _inbound, "wa_message_id", values, ("id",))
    if row is None:
        log.debug("inbound %s is a redelivery; acknowledged", incoming.message_id)
        return []
    return handle(session, int(row.id), incoming, now, config)


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
