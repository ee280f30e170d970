"""The tables of lifecycle automations: each automation's settings, and every occasion it acted on.

Invariants:
- One ``Automation`` row per kind (``KINDS``), edited by admins in the console; a kind without
  a row runs with its defaults (``domain.automations.DEFAULTS``).
- One ``AutomationOccasion`` per idempotency key (``auto:<kind>:<customer>:<occasion>``), for
  ever: the row is written in the same unit of work as the bonus points and the queued message,
  so an occasion is acted on once across reruns, restarts and hosts (the unique key decides
  which of two racing hosts does it; the other finds the row and does nothing).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow

KINDS = ("birthday", "anniversary", "winback", "expiry", "tier_risk")


class Automation(Base):
    __tablename__ = "automations"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    template_name: Mapped[str] = mapped_column(String(512))
    template_language: Mapped[str] = mapped_column(String(8), default="member")
    # The body's {{1}}, {{2}}, ...: member fields (``domain.automations.PARAMETER_FIELDS``) or literal text.
    template_parameters: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Timing in days: win-back after [N]; expiry reminders [30, 7, 1] before; tier-at-risk [N] before the review.
    days: Mapped[list[int]] = mapped_column(JSON, default=list)
    bonus_points: Mapped[int] = mapped_column(default=0)
    # Local hour (Asia/Kolkata) from which the day's occasions are acted on.
    send_hour: Mapped[int] = mapped_column(default=10)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class AutomationOccasion(Base):
    """One member's occasion that an automation acted on (points given, message queued or noted)."""

    __tablename__ = "automation_occasions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    # What occasion: the year of a birthday or anniversary, the lapse's last purchase day, the expiry day ...
    occasion: Mapped[str] = mapped_column(String(40))
    bonus_points: Mapped[int] = mapped_column(default=0)
    # How the member is told: "marketing" (queued for the campaign sender), "notification" (service), "none".
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_automation_occasions_kind_created", "kind", "created_at"),
        Index("ix_automation_occasions_customer_id", "customer_id"),
    )
