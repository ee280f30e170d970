"""The tables of WhatsApp marketing: campaigns, their recipients, every marketing message, bad numbers, the pace.

Invariants:
- One ``CampaignRecipient`` per (campaign, member), and its ``idempotency_key`` is unique: a
  member is queued once per campaign however often a campaign is started, resumed or its
  sender restarted.
- One ``MarketingMessage`` per idempotency key, whoever sends it (a campaign, an automation, a
  test send). A row whose ``accepted_at`` is set is a message the Graph API accepted: those rows,
  and only those, count toward the weekly frequency cap and the number's 24-hour messaging limit.
- A recipient or queued message moves ``pending`` → ``sending`` (claimed under a lease) →
  ``sent`` → ``delivered`` → ``read``, or ends ``failed`` / ``skipped``; it never moves back,
  except that a lease that expires before the claimer reached the Graph API hands it back.
- ``Undeliverable`` holds one row per member whose number answered 131026; a newer answer
  moves its time forward.

Campaign messages are the Graph API's "marketing" category; the older ``campaigns`` table
(``domain.earning.Campaign``) is a points bonus, which is why these are ``MessageCampaign``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "done", "cancelled")
RECIPIENT_STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "skipped")
TEMPLATE_LANGUAGES = ("en", "hi", "member")  # "member": each member's own language
CATEGORIES = ("marketing", "utility")  # what Meta charges the template as


class MessageCampaign(Base):
    __tablename__ = "message_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    template_name: Mapped[str] = mapped_column(String(512))
    template_language: Mapped[str] = mapped_column(String(8), default="en")
    # The body's {{1}}, {{2}}, ...: each a field of the member (``domain.marketing.FIELDS``) or literal text.
    template_parameters: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str] = mapped_column(String(16), default="marketing")
    # ``domain.segments.Segment.to_json()``
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # Why it paused: "quality RED", "template PAUSED", "failure rate 23%", "paused by x@y" ...
    pause_reason: Mapped[str | None] = mapped_column(String(300))
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Send in quiet hours anyway (the admin said so).
    ignore_quiet_hours: Mapped[bool] = mapped_column(default=False)
    audience: Mapped[int] = mapped_column(default=0)  # eligible members when counted last (created, started)
    retarget_of_id: Mapped[int | None] = mapped_column(ForeignKey("message_campaigns.id"))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CampaignRecipient(Base):
    __tablename__ = "campaign_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("message_campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # For a skip: no_consent | stop | undeliverable | capped | erased | ...; for a failure: Graph's code.
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    wamid: Mapped[str | None] = mapped_column(String(128), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # The Graph API accepted it but we never heard so from its answer (the sender died): see docs/CAMPAIGNS.md.
    unconfirmed: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_campaign_recipients_claim", "campaign_id", "status", "next_attempt_at"),
    )


class MarketingMessage(Base):
    """Every marketing template message to one member: queued by an automation or a test send, or
    recorded when a campaign's message was accepted. The frequency cap counts ``accepted_at``."""

    __tablename__ = "marketing_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    origin: Mapped[str] = mapped_column(String(16))  # campaign | automation | test
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("message_campaigns.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    template_name: Mapped[str] = mapped_column(String(512))
    template_language: Mapped[str] = mapped_column(String(8))
    template_parameters: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    wamid: Mapped[str | None] = mapped_column(String(128), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last time a request for it went to the Graph API (at most one per member per 6 seconds).
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the Graph API accepted it (the frequency cap and the 24-hour limit count these).
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_marketing_messages_customer_accepted", "customer_id", "accepted_at"),
        # The frequency cap and the 24-hour limit read one week / one day of accepted messages.
        Index("ix_marketing_messages_accepted_at", "accepted_at"),
        Index("ix_marketing_messages_due", "status", "next_attempt_at"),
        Index("ix_marketing_messages_customer_attempt", "customer_id", "last_attempt_at"),
    )


class Undeliverable(Base):
    """A member whose number answered 131026 (not on WhatsApp, or cannot receive): left out for a while."""

    __tablename__ = "undeliverable_numbers"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class SendPace(Base):
    """The shared pace without Redis: the next free send slot (seconds since the epoch) per key."""

    __tablename__ = "send_paces"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class CampaignEvent(Base):
    """What happened to a campaign and who did it: started, paused (and why), resumed, cancelled, done."""

    __tablename__ = "campaign_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("message_campaigns.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
