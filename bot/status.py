"""Delivery reports from WhatsApp move an outbox row forward, never back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.inbound import StatusUpdate
from bot.models import OutboxMessage

# Meta does not promise order: "delivered" may arrive after "read".
RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}


def apply(session: Session, report: StatusUpdate, now: dt.datetime) -> bool:
    """Apply one report; True if it changed the row."""
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.wa_message_id == report.wa_message_id).with_for_update()
    ).one_or_none()
    if row is None:
        return False
    at = report.at or now
    if report.status == "failed":
        return _fail(row, report, at)
    if report.status not in RANK or RANK[report.status] <= RANK.get(row.status, 99):
        return False
    row.status = report.status
    if report.status == "sent":
        row.sent_at = row.sent_at or at
    if report.status in ("delivered", "read"):
        row.sent_at = row.sent_at or at
        row.delivered_at = row.delivered_at or at
    if report.status == "read":
        row.read_at = at
    return True


def _fail(row: OutboxMessage, report: StatusUpdate, at: dt.datetime) -> bool:
    """A message the customer already received cannot fail afterwards."""
    if row.status in ("delivered", "read", "failed"):
        return False
    row.status = "failed"
    row.failed_at = at
    row.error_code = report.error_code
    row.error = report.error or "failed"
    return True
