"""The outbox: every outgoing message is a row first, and is sent after its transaction commits.

A row moves ``queued -> sending -> sent -> delivered -> read`` or ends ``failed`` (never accepted)
or ``expired`` (a chat reply given up on because it would arrive too late; see ``bot.retry``).
Claiming a row is one conditional UPDATE, so the after-commit sender thread of any
web worker and the scheduler's retry job never send the same row twice; a claim is
a lease (``next_attempt_at`` moves ahead) so a row claimed by a process that died is
picked up again later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, exists, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import retry
from bot.messages import Button, Reply, Row, Section, Template
from bot.models import OutboxMessage
from bot.statements import insert_ignore

LEASE = dt.timedelta(seconds=60)  # longer than the sender's HTTP timeout
PENDING = ("queued", "sending")


def enqueue(
    session: Session,
    phone: str,
    message: Reply | Template,
    *,
    key: str,
    now: dt.datetime,
    customer_id: int | None = None,
    origin: str = "bot",
    claimed: bool = False,
) -> OutboxMessage | None:
    """Add a message to send once per ``key``; ``None`` if that key was already enqueued.

    ``claimed`` creates the row already claimed (``sending``, leased) for the caller's
    after-commit sender, which then needs no transaction of its own to claim it.
    """
    item = add(session, phone, message, key=key, now=now, customer_id=customer_id, origin=origin, claimed=claimed)
    return session.get(OutboxMessage, item.id) if item is not None else None


def add(
    session: Session,
    phone: str,
    message: Reply | Template,
    *,
    key: str,
    now: dt.datetime,
    customer_id: int | None = None,
    origin: str = "bot",
    claimed: bool = False,
) -> Outgoing | None:
    """``enqueue`` for the webhook's hot path: no ORM object, just what the sender needs."""
    values = {
        "phone": phone,
        "customer_id": customer_id,
        "kind": "template" if isinstance(message, Template) else message.kind,
        "payload": dataclasses.asdict(message),
        "idempotency_key": key,
        "status": "sending" if claimed else "queued",
        "attempts": 1 if claimed else 0,
        "next_attempt_at": now + LEASE if claimed else now,
        "origin": origin,
        "created_at": now,
    }
    row = insert_ignore(session, OutboxMessage.__table__, "idempotency_key", values, ("id",))
    if row is None:
        return None
    lease: dt.datetime = values["next_attempt_at"]  # type: ignore[assignment]
    return Outgoing(row.id, phone, message, lease if claimed else None)


@dataclass(frozen=True)
class Outgoing:
    """What an after-commit sender needs: the row id, where to, what, and whether it holds the claim."""

    id: int
    phone: str
    message: Reply | Template
    lease_until: dt.datetime | None  # set when the row was created claimed for us


def outgoing(row: OutboxMessage) -> Outgoing:
    lease = row.next_attempt_at if row.status == "sending" else None
    return Outgoing(row.id, row.phone, message_of(row), lease)


_table = cast(Table, OutboxMessage.__table__)
_ANY_PENDING = select(_table.c.id).where(_table.c.phone == bindparam("phone"), _table.c.status.in_(PENDING)).limit(1)


def has_pending(session: Session, phone: str) -> bool:
    """Is any message to ``phone`` still unsent? Then new ones must queue behind it."""
    return session.scalar(_ANY_PENDING, {"phone": phone}) is not None


def message_of(row: OutboxMessage) -> Reply | Template:
    """Rebuild the value that was enqueued, to hand it to a sender."""
    data = dict(row.payload)
    if row.kind == "template":
        return Template(data["name"], data["language"], tuple(data.get("params", ())), dict(data.get("extra", {})))
    buttons = tuple(Button(**b) for b in data.get("buttons", ()))
    sections = tuple(Section(s["title"], tuple(Row(**r) for r in s.get("rows", ()))) for s in data.get("sections", ()))
    return Reply(**{**data, "buttons": buttons, "sections": sections})


def claim(session: Session, outbox_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Take one row for a send attempt (see ``claim_many``)."""
    rows = claim_many(session, [outbox_id], now)
    return rows[0] if rows else None


def claim_many(session: Session, ids: Sequence[int], now: dt.datetime) -> list[OutboxMessage]:
    """Take rows for one send attempt each, oldest first, in one UPDATE.

    A row is left alone if someone else holds it, it is not due, or an earlier message
    to the same phone is still unsent and not in this batch: replies keep their order.
    """
    if not ids:
        return []
    table = _table
    earlier = table.alias("earlier")
    blocked = exists().where(
        earlier.c.phone == table.c.phone,
        earlier.c.id < table.c.id,
        earlier.c.status.in_(PENDING),
        earlier.c.id.not_in(ids),
    )
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status.in_(PENDING),
            OutboxMessage.next_attempt_at <= now,
            ~blocked,
        )
        .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now + LEASE)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    claimed = sorted(session.scalars(stmt), key=lambda row: row.id)
    waiting = _still_pending(session, [i for i in ids if i not in {row.id for row in claimed}]) if claimed else []
    keep = [row for row in claimed if not any(p == row.phone and i < row.id for i, p in waiting)]
    release(session, [row.id for row in claimed if row not in keep], now)
    return keep


def _still_pending(session: Session, ids: Sequence[int]) -> list[tuple[int, str]]:
    """Rows of the batch we could not claim that are still unsent: later rows of their phone must wait."""
    if not ids:
        return []
    stmt = select(OutboxMessage.id, OutboxMessage.phone).where(
        OutboxMessage.id.in_(ids), OutboxMessage.status.in_(PENDING)
    )
    return [(i, p) for i, p in session.execute(stmt).all()]


def release(session: Session, ids: Sequence[int], now: dt.datetime) -> None:
    """Hand claimed rows back untried (an earlier message to the phone must go first)."""
    if not ids:
        return
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
        .values(status="queued", attempts=OutboxMessage.attempts - 1, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def due_ids(session: Session, now: dt.datetime, limit: int = 200, after_id: int = 0) -> list[int]:
    """Rows the retry job should try now, oldest first (queued and due, or a lease that ran out)."""
    return [outbox_id for outbox_id, _ in due_rows(session, now, limit, after_id)]


def due_rows(session: Session, now: dt.datetime, limit: int = 200, after_id: int = 0) -> list[tuple[int, str]]:
    """``due_ids`` with each row's phone, so the rows can be sent on several threads, one phone per thread."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.phone)
        .where(OutboxMessage.status.in_(PENDING), OutboxMessage.next_attempt_at <= now, OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [(int(outbox_id), phone) for outbox_id, phone in session.execute(stmt)]


def mark_sent(session: Session, outbox_id: int, wa_message_id: str, now: dt.datetime) -> None:
    mark_sent_many(session, [(outbox_id, wa_message_id)], now)


def mark_sent_many(session: Session, sent: Sequence[tuple[int, str]], now: dt.datetime) -> None:
    """Record WhatsApp's ids for rows it accepted (one statement, many parameter sets)."""
    if not sent:
        return
    table = cast(Table, OutboxMessage.__table__)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("outbox_id"), table.c.status == "sending")
        .values(status="sent", wa_message_id=bindparam("wamid"), sent_at=now, error_code=None, error=None)
    )
    session.connection().execute(stmt, [{"outbox_id": i, "wamid": w} for i, w in sent])


def mark_failed(session: Session, outbox_id: int, code: str | None, reason: str, now: dt.datetime) -> None:
    """A permanent failure: WhatsApp will never accept this message as it is."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status.in_(PENDING))
        .values(status="failed", error_code=code, error=reason[:300], failed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


@dataclass(frozen=True)
class Retry:
    """What became of a row after a transient error: ``retry`` at ``at``, or ``failed`` / ``expired``."""

    outcome: str
    at: dt.datetime | None = None


def schedule_retry(
    session: Session,
    outbox_id: int,
    code: str | None,
    reason: str,
    now: dt.datetime,
    policy: retry.RetryPolicy = retry.DEFAULT,
) -> Retry:
    """Queue the row for its next try (``bot.retry``), or end it if that try would come too late."""
    row = session.get(OutboxMessage, outbox_id, populate_existing=True)
    if row is None or row.status != "sending":
        return Retry("failed")
    at = now + retry.next_delay(row.attempts, code, policy)
    if at > retry.deadline(row.origin, row.created_at, policy):
        if retry.is_chat(row.origin):
            expire(session, [outbox_id], f"not sent: still failing after {row.attempts} attempts: {reason}", now)
            return Retry("expired")
        mark_failed(session, outbox_id, code, f"gave up after {row.attempts} attempts: {reason}", now)
        return Retry("failed")
    row.status = "queued"
    row.next_attempt_at = at
    row.error_code, row.error = code, reason[:300]
    return Retry("retry", at)


def expire(session: Session, ids: Sequence[int], reason: str, now: dt.datetime) -> None:
    """End unsent chat replies that would reach the customer too late: status ``expired``, code ``stale``."""
    if not ids:
        return
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status.in_(PENDING))
        .values(status="expired", error_code=retry.STALE, error=reason[:300], failed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def expire_stale(
    session: Session, ids: Sequence[int], now: dt.datetime, policy: retry.RetryPolicy = retry.DEFAULT
) -> list[int]:
    """Of ``ids``, the chat replies that are free to claim but older than the policy allows: expire them
    instead of sending them (the customer has moved on); returns their ids."""
    if not ids:
        return []
    minutes = round(policy.chat_stale_after.total_seconds() / 60, 1)
    reason = f"not sent: a chat reply older than {minutes:g} minutes would arrive too late"
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status.in_(PENDING),
            OutboxMessage.next_attempt_at <= now,  # a live claim is someone else's to finish
            OutboxMessage.origin.in_(sorted(retry.CHAT_ORIGINS)),
            OutboxMessage.created_at < retry.stale_before(now, policy),
        )
        .values(status="expired", error_code=retry.STALE, error=reason, failed_at=now)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    stale = sorted(session.scalars(stmt))
    return stale


def pending_for(session: Session, phone: str) -> list[OutboxMessage]:
    """Unsent rows for one phone, oldest first (for the console and tests)."""
    stmt = select(OutboxMessage).where(OutboxMessage.phone == phone, OutboxMessage.status.in_(PENDING))
    return list(session.scalars(stmt.order_by(OutboxMessage.id)))


def add_behind_pending(
    session: Session, phone: str, message: Reply | Template, *, key: str, now: dt.datetime, customer_id: int | None
) -> Outgoing | None:
    """``add`` claimed for the caller's sender, or queued if an earlier message to ``phone`` is still
    unsent; the check is part of the INSERT (one statement instead of a SELECT and an INSERT)."""
    params = {
        "b_phone": phone,
        "b_customer_id": customer_id,
        "b_kind": "template" if isinstance(message, Template) else message.kind,
        "b_payload": dataclasses.asdict(message),
        "b_key": key,
        "b_now": now,
        "b_lease": now + LEASE,
        "b_origin": "bot",
    }
    row = session.execute(_insert_behind_pending(session.get_bind().dialect.name), params).first()
    if row is None:
        return None
    return Outgoing(row.id, phone, message, row.next_attempt_at if row.status == "sending" else None)


_behind_pending: dict[str, Any] = {}


def _insert_behind_pending(dialect: str) -> Any:
    """INSERT ... SELECT ..., CASE WHEN EXISTS (an unsent row to the phone) THEN queued ELSE claimed END."""
    stmt = _behind_pending.get(dialect)
    if stmt is not None:
        return stmt
    c = _table.c
    phone = bindparam("b_phone", type_=c.phone.type)
    now = bindparam("b_now", type_=c.created_at.type)
    pending = exists().where(c.phone == phone, c.status.in_(PENDING))
    source = select(
        phone,
        bindparam("b_customer_id", type_=c.customer_id.type),
        bindparam("b_kind", type_=c.kind.type),
        bindparam("b_payload", type_=c.payload.type),
        bindparam("b_key", type_=c.idempotency_key.type),
        case((pending, literal("queued", c.status.type)), else_=literal("sending", c.status.type)),
        case((pending, literal(0, c.attempts.type)), else_=literal(1, c.attempts.type)),
        case((pending, now), else_=bindparam("b_lease", type_=c.next_attempt_at.type)),
        bindparam("b_origin", type_=c.origin.type),
        now,
    ).where(true())  # SQLite: an INSERT ... SELECT with ON CONFLICT needs a WHERE to parse
    columns = ["phone", "customer_id", "kind", "payload", "idempotency_key", "status"]
    columns += ["attempts", "next_attempt_at", "origin", "created_at"]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    built = (
        insert(_table)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(c.id, c.status, c.next_attempt_at)
    )
    return _behind_pending.setdefault(dialect, built)
