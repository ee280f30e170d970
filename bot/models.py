"""What the bot stores: inbound messages, the outbox, and each conversation's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime

# A chat's address: an E.164 number, or the business-scoped user id of a sender known by username only.
ADDRESS_LENGTH = 140


class InboundMessage(Base):
    """Stored before it is handled; the unique WhatsApp id makes redeliveries no-ops."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    wa_message_id: Mapped[str] = mapped_column(String(200), unique=True)
    phone: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), index=True)  # E.164, or a WhatsApp user id
    wa_user_id: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # received -> handled | failed | ignored
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message to send; sent after commit, retried by the scheduler until it lands or fails for good."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), index=True)  # E.164, or a WhatsApp user id
    customer_id: Mapped[int | None] = mapped_column(index=True)
    # text | buttons | list | template
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # queued -> sent -> delivered -> read; queued -> failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    wa_message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    origin: Mapped[str] = mapped_column(String(16), default="bot")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class Conversation(Base):
    """One per phone number: state, its data, the 24-hour window, hand-off and flood control."""

    __tablename__ = "conversations"

    phone: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)  # E.164, or a WhatsApp user id
    customer_id: Mapped[int | None] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(32), default="start")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str | None] = mapped_column(String(8))
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    handoff: Mapped[bool] = mapped_column(default=False, index=True)
    handoff_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    flood_window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    flood_count: Mapped[int] = mapped_column(default=0)
    muted_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EarlyStatus(Base):
    """A delivery report that arrived before its outbox row had WhatsApp's message id.

    The sender records the id right after the Graph API accepts a message, but Meta may
    report "sent" (or even "failed") before that commit; such reports wait here until
    the scheduler's ``apply_early_statuses`` job finds the row.
    """

    __tablename__ = "early_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    wa_message_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
