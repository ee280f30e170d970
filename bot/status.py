"""Delivery reports from WhatsApp move an outbox row forward, never back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.inbound import StatusUpdate
from bot.models import EarlyStatus, OutboxMessage

# Meta does not promise order: "delivered" may arrive after "read".
RANK = {"queued": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}


KEEP_EARLY = dt.timedelta(days=1)  # a report whose message never turns up was not about one of ours


def apply(session: Session, report: StatusUpdate, now: dt.datetime) -> bool:
    """Apply one report; True if it changed the row. A report for an id no row has yet is kept for
    :func:`apply_early`."""
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.wa_message_id == report.wa_message_id).with_for_update()
    ).one_or_none()
    if row is None:
        if report.status in (*RANK, "failed"):
            session.add(
                EarlyStatus(
                    wa_message_id=report.wa_message_id,
                    status=report.status,
                    at=report.at,
                    error_code=report.error_code,
                    error=report.error,
                    received_at=now,
                )
            )
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


def apply_early(session: Session, now: dt.datetime, limit: int = 500) -> tuple[int, int]:
    """Apply the kept reports whose rows now have their WhatsApp id; drop those older than a day.

    Returns (applied, dropped). Only reports with a row are read, so reports about other
    messages (sent from elsewhere with the same number) never hold up ours. They are
    applied in the order they arrived; ``apply`` keeps a row from moving backwards whatever
    that order.
    """
    matched = session.scalars(
        select(EarlyStatus)
        .join(OutboxMessage, OutboxMessage.wa_message_id == EarlyStatus.wa_message_id)
        .order_by(EarlyStatus.id)
        .limit(limit)
    ).all()
    for kept in matched:
        apply(session, StatusUpdate(kept.wa_message_id, kept.status, kept.at, kept.error_code, kept.error), now)
    if matched:
        session.execute(delete(EarlyStatus).where(EarlyStatus.id.in_([kept.id for kept in matched])))
    stale = session.connection().execute(delete(EarlyStatus).where(EarlyStatus.received_at < now - KEEP_EARLY))
    return len(matched), int(stale.rowcount or 0)
