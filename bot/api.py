"""What the other rooms (the console, the integration API) may ask of the bot.

Simulate, read a thread, reply, take over, hand back, list what was sent. This is
the bot's only door: callers get plain values (``Reply`` and the small records
below), never the bot's tables, so the bot can change them without breaking its
callers. Every function works inside the caller's unit of work and never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import business_number, conversations, engine, notice, outbox, payments
from bot import replies as rp
from bot.flows.table import TABLE
from bot.messages import Incoming, Reply
from bot.models import Conversation, InboundMessage, OutboxMessage
from bot.sender import sender_for
from bot.texts import LANGUAGES, texts_for
from domain import audit
from domain.customers import find_by_phone
from domain.errors import NotFound, ValidationError
from domain.phones import normalize_phone

__all__ = [
    "LANGUAGES",
    "OUTBOX_STATUSES",
    "BusinessNumber",
    "ConversationState",
    "PaymentCode",
    "Reply",
    "SentMessage",
    "conversation_state",
    "hand_back",
    "privacy_notice",
    "refresh_whatsapp_number",
    "reply_lines",
    "send_notifications_now",
    "send_payment_code",
    "sent_messages",
    "simulate",
    "staff_reply",
    "take_over",
    "thread",
    "waiting",
    "whatsapp_number",
]

OUTBOX_STATUSES = ("queued", "sent", "delivered", "read", "failed", "expired")
PaymentCode = payments.PaymentCode
BusinessNumber = business_number.BusinessNumber


def whatsapp_number(session: Session, config: Mapping[str, Any]) -> BusinessNumber:
    """The business number the bot's share links use, where it came from, or why there is none."""
    return business_number.current(session, config)


def refresh_whatsapp_number(session: Session, app: Flask, now: dt.datetime) -> BusinessNumber:
    """Read the number from the Graph API now (what the scheduler does every few hours)."""
    return business_number.refresh(session, sender_for(app), now, app.config)


@dataclass(frozen=True)
class ConversationState:
    """What the console shows about one conversation."""

    phone: str
    handoff: bool
    window_open: bool


@dataclass(frozen=True)
class SentMessage:
    """One outbound message and where its delivery stands."""

    id: int
    phone: str
    kind: str
    origin: str
    status: str
    preview: str
    created_at: dt.datetime
    error_code: str | None
    error: str | None
    last_change_at: dt.datetime | None


def simulate(
    session: Session, phone: str, text: str, now: dt.datetime, config: Mapping[str, Any], *, actor: str
) -> list[Reply]:
    """Drive the real engine as the test member ``phone``, with an audit entry per message.

    Refused for a real customer's number, and for a number that wrote to us on WhatsApp: staff
    must not redeem, read vouchers or change consent for someone through the simulator. A number
    nobody uses becomes a test member (``Customer.is_test``) when the bot enrols it, so reports
    and dashboards leave it out. The CLI ``chat`` is the operator's tool and drives the engine
    directly. A typed number answers the last offered option.
    """
    e164 = normalize_phone(phone, int(str(config.get("DEFAULT_COUNTRY_CODE") or "91").lstrip("+")))
    member = find_by_phone(session, e164)
    if member is not None and not member.is_test:
        raise ValidationError(f"{e164} is a real customer's number; the simulator acts only on test members")
    if member is None and session.scalar(select(InboundMessage.id).where(InboundMessage.phone == e164).limit(1)):
        raise ValidationError(f"{e164} has written to us on WhatsApp; the simulator acts only on test numbers")
    incoming = Incoming(message_id=f"sim-{uuid.uuid4().hex}", phone=e164, kind="text", text=text)
    replies = engine.handle(session, incoming, now, config)
    member = member or find_by_phone(session, e164)
    if member is not None:
        member.is_test = True  # a no-op, or the member this message enrolled
    audit.record(
        session,
        actor=actor,
        action="simulator.message",
        entity_type="customer" if member is not None else "phone",
        entity_id=member.id if member is not None else e164,
        now=now,
        details={"phone": e164, "text": text[:200], "replies": len(replies)},
    )
    return replies


def _written(session: Session, phone: str) -> Conversation:
    """The conversation of a number that wrote to us, locked; one that never wrote has none and gets none."""
    conv = session.get(Conversation, phone, with_for_update=True)
    if conv is None:
        raise NotFound(f"{phone} has never written to us, so there is no conversation with it")
    return conv


def staff_reply(session: Session, phone: str, text: str, *, actor: str, now: dt.datetime) -> OutboxMessage:
    """Queue a staff member's message; WhatsApp allows free text only within the 24-hour window.

    Replying also takes the conversation over, so the bot does not talk across staff.
    """
    conv = _written(session, phone)
    if not conversations.window_open(conv, now):
        raise ValidationError("the customer has not written in the last 24 hours; only templates can be sent")
    body = text.strip()
    if not body:
        raise ValidationError("write a reply first")
    reply = rp.text(rp.fit(body, 4096) if len(body) > 4096 else body)
    row = outbox.enqueue(
        session, phone, reply, key=f"staff:{uuid.uuid4().hex}", now=now, customer_id=conv.customer_id, origin="staff"
    )
    assert row is not None, "a fresh key is never a duplicate"
    _take(conv, now)
    audit.record(
        session, actor=actor, action="conversation.reply", entity_type="conversation", entity_id=phone, now=now
    )
    return row


def take_over(session: Session, phone: str, *, actor: str, now: dt.datetime) -> None:
    """Staff take the conversation: the bot stays quiet on it until handed back (only one that exists)."""
    conv = _written(session, phone)
    _take(conv, now)
    audit.record(
        session, actor=actor, action="conversation.take_over", entity_type="conversation", entity_id=phone, now=now
    )


def conversation_state(session: Session, phone: str, now: dt.datetime) -> ConversationState | None:
    """The conversation with ``phone``, or None when that number never wrote (nothing is created)."""
    conv = session.get(Conversation, phone)
    if conv is None:
        return None
    return ConversationState(phone=conv.phone, handoff=conv.handoff, window_open=conversations.window_open(conv, now))


def _take(conv: Conversation, now: dt.datetime) -> None:
    if not conv.handoff:
        conv.handoff = True
        conv.handoff_at = now


def hand_back(session: Session, phone: str, *, actor: str, now: dt.datetime) -> None:
    """The bot answers again; the customer is told, with the menu hint, while the window is open."""
    conv = _written(session, phone)
    was_handed_off = conv.handoff
    conv.handoff = False
    conv.handoff_at = None
    conv.state = "menu" if conv.customer_id is not None else "start"
    dropped = ("options", *TABLE.state_keys)  # what was offered, and what the flow it left was holding
    conv.data = {k: v for k, v in (conv.data or {}).items() if k not in dropped}
    audit.record(
        session, actor=actor, action="conversation.hand_back", entity_type="conversation", entity_id=phone, now=now
    )
    if was_handed_off and conversations.window_open(conv, now):
        t = texts_for(conv.language, {})
        notice = rp.text(t._("You are chatting with our assistant again. Send MENU to see what it can do."))
        outbox.enqueue(
            session, phone, notice, key=f"handback:{phone}:{now.isoformat()}", now=now, customer_id=conv.customer_id
        )


def waiting(session: Session) -> list[Conversation]:
    """Conversations handed to staff, the longest waiting first."""
    stmt = (
        select(Conversation).where(Conversation.handoff.is_(True)).order_by(Conversation.handoff_at, Conversation.phone)
    )
    return list(session.scalars(stmt))


def thread(session: Session, phone: str, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` messages both ways, oldest first: ``{"at", "direction", "text", "status"}``."""
    inbound = session.scalars(
        select(InboundMessage).where(InboundMessage.phone == phone).order_by(InboundMessage.id.desc()).limit(limit)
    )
    sent = session.scalars(
        select(OutboxMessage).where(OutboxMessage.phone == phone).order_by(OutboxMessage.id.desc()).limit(limit)
    )
    items = [
        {"at": m.received_at, "direction": "in", "text": m.text or f"[{m.kind}]", "status": m.status, "order": m.id}
        for m in inbound
    ]
    items += [
        {"at": m.created_at, "direction": "out", "text": _outbound_text(m), "status": m.status, "order": m.id}
        for m in sent
    ]
    # Inbound before the replies it caused when they share a timestamp.
    items.sort(key=lambda i: (i["at"], i["direction"] == "out", i["order"]))
    return [{k: v for k, v in item.items() if k != "order"} for item in items[-limit:]]


def _outbound_text(row: OutboxMessage) -> str:
    payload = row.payload or {}
    if row.kind == "template":
        params = ", ".join(str(p) for p in payload.get("params", ()))
        return f"[template {payload.get('name', '')}] {params}".strip()
    options = [b.get("title", "") for b in payload.get("buttons", ())]
    options += [r.get("title", "") for s in payload.get("sections", ()) for r in s.get("rows", ())]
    body = str(payload.get("body", ""))
    return body + ("\n" + " | ".join(options) if options else "")


def reply_lines(reply: Reply) -> list[str]:
    """A bot reply as text lines, its options numbered as the CLI simulator numbers them."""
    lines = [reply.header or "", reply.body, reply.footer or ""]
    options = [b.title for b in reply.buttons] + [r.title for s in reply.sections for r in s.rows]
    lines += [f"{n}. {title}" for n, title in enumerate(options, start=1)]
    return [line for line in lines if line]


def sent_messages(
    session: Session,
    *,
    status: str = "",
    phone: str | None = None,
    origin: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[SentMessage]:
    """Outbound messages, newest first, filtered by status, phone (E.164) and origin."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    if origin:
        stmt = stmt.where(OutboxMessage.origin == origin[:16])
    if phone is not None:
        stmt = stmt.where(OutboxMessage.phone == phone)
    return [_sent(m) for m in session.scalars(stmt.limit(limit).offset(offset))]


def _sent(m: OutboxMessage) -> SentMessage:
    payload = m.payload or {}
    preview = payload.get("body") or payload.get("text") or payload.get("name") or ""
    return SentMessage(
        id=m.id,
        phone=m.phone,
        kind=m.kind,
        origin=m.origin,
        status=m.status,
        preview=str(preview)[:140],
        created_at=m.created_at,
        error_code=m.error_code,
        error=m.error,
        last_change_at=m.read_at or m.delivered_at or m.sent_at or m.failed_at,
    )


def send_payment_code(
    session: Session, app: Flask, payment: payments.PaymentCode, now: dt.datetime, config: Mapping[str, Any]
) -> None:
    """Ask the member on WhatsApp, at once, to confirm a points payment (Confirm/Decline and the code).

    Enqueued in your unit of work and handed to the sender when it commits; nothing is sent on rollback.
    """
    payments.send_payment_code(session, app, payment, now, config)


def send_notifications_now(session: Session, customer_id: int, now: dt.datetime, app: Flask) -> int:
    """Send the customer's pending notifications (a voucher just issued) when your unit of work commits,
    rather than at the scheduler's next dispatch; returns how many messages were queued."""
    return payments.send_notifications_now(session, customer_id, now, app)


@dataclass(frozen=True)
class NoticeTexts:
    """The privacy notice the members see now: its version and its text per language."""

    label: str
    texts: dict[str, str]
    shipped: bool  # the catalogs' text (nothing published yet)


def privacy_notice(session: Session) -> NoticeTexts:
    """For the console's notice editor: what ``/privacy`` shows in each language."""
    shown = {lang: notice.current(session, lang) for lang in LANGUAGES}
    label = shown[LANGUAGES[0]].label
    return NoticeTexts(label, {lang: s.body for lang, s in shown.items()}, label == notice.default_label())
