"""The Graph API's answer to one marketing message, written back to its row (see ``domain.campaign_sending``).

``begin_send`` commits ``sending`` just before the request; ``record_sent`` / ``record_error``
write the answer; ``reconcile`` settles rows whose sender died mid-request as sent, unconfirmed
(never sent twice). An accepted message sets ``MarketingMessage.accepted_at``, which the weekly
cap and the 24-hour limit count.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from domain import campaigns, marketing
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_sending import DEAD_AFTER, Delivery, Row
from domain.send_policy import Decision


def _model(kind: str) -> type[Row]:
    return CampaignRecipient if kind == "recipient" else MarketingMessage


def _locked(session: Session, kind: str, row_id: int) -> Row | None:
    if kind == "recipient":
        return session.get(CampaignRecipient, row_id, with_for_update=True)
    return session.get(MarketingMessage, row_id, with_for_update=True)


def begin_send(session: Session, delivery: Delivery, owner: str, now: dt.datetime) -> bool:
    """Mark the row ``sending`` just before the request; False if it is no longer ours to send
    (the lease ran out, or its campaign was paused or cancelled meanwhile)."""
    model = _model(delivery.kind)
    stmt = update(model).where(
        model.id == delivery.id, model.status == "pending", model.lease_owner == owner, model.lease_until > now
    )
    if delivery.kind == "recipient":
        live = exists().where(MessageCampaign.id == CampaignRecipient.campaign_id, MessageCampaign.status == "sending")
        stmt = stmt.where(live)
    values: dict[str, object] = {"status": "sending", "attempts": model.attempts + 1}
    if delivery.kind == "message":
        values["last_attempt_at"] = now
    if session.execute(stmt.values(**values)).rowcount != 1:  # type: ignore[attr-defined]
        return False
    if delivery.kind == "recipient":
        _attempt_record(session, delivery, now)
    return True


def _attempt_record(session: Session, delivery: Delivery, now: dt.datetime) -> None:
    """The campaign message's row in ``marketing_messages``: the member's last attempt (the 6-second gap)."""
    row = session.scalar(select(MarketingMessage).where(MarketingMessage.idempotency_key == delivery.key))
    if row is None:
        session.add(
            MarketingMessage(
                customer_id=delivery.customer_id,
                origin="campaign",
                campaign_id=delivery.campaign_id,
                idempotency_key=delivery.key,
                template_name=delivery.template,
                template_language=delivery.language,
                template_parameters=list(delivery.parameters),
                status="sending",
                attempts=1,
                created_at=now,
                last_attempt_at=now,
            )
        )
    else:
        row.status, row.attempts, row.last_attempt_at = "sending", row.attempts + 1, now


def release(session: Session, delivery: Delivery, owner: str) -> None:
    """Give back a leased row this sender will not send after all (the batch was cut short)."""
    model = _model(delivery.kind)
    session.execute(
        update(model)
        .where(model.id == delivery.id, model.status == "pending", model.lease_owner == owner)
        .values(lease_until=None, lease_owner=None)
    )


def record_sent(
    session: Session, delivery: Delivery, wamid: str | None, now: dt.datetime, *, unconfirmed: bool = False
) -> None:
    """The Graph API accepted it (or, ``unconfirmed``, may have)."""
    row = _locked(session, delivery.kind, delivery.id)
    if row is None:
        return
    if row.status in ("sending", "pending"):
        row.status = "sent"  # a webhook may have moved it further already: never back
    row.wamid = wamid or row.wamid
    row.lease_until, row.lease_owner = None, None
    if isinstance(row, CampaignRecipient):
        row.unconfirmed = unconfirmed and wamid is None
        row.sent_at = row.sent_at or now
    message = row if isinstance(row, MarketingMessage) else _message_for(session, delivery.key)
    if message is not None:
        message.status = "sent" if message.status in ("sending", "pending") else message.status
        message.wamid = wamid or message.wamid
        message.accepted_at = message.accepted_at or now


def _message_for(session: Session, key: str) -> MarketingMessage | None:
    return session.scalar(select(MarketingMessage).where(MarketingMessage.idempotency_key == key))


def record_error(
    session: Session, delivery: Delivery, decision: Decision, code: str | None, reason: str, now: dt.datetime
) -> str:
    """Apply the policy's decision; returns ``retry``, ``failed`` or ``sent`` (unconfirmed)."""
    if decision.outcome == "unconfirmed":
        record_sent(session, delivery, None, now, unconfirmed=True)
        return "sent"
    row = _locked(session, delivery.kind, delivery.id)
    if row is None or row.status not in ("sending", "pending"):
        return "skipped"
    row.error_code, row.error = code, reason[:300]
    row.lease_until, row.lease_owner = None, None
    message = row if isinstance(row, MarketingMessage) else _message_for(session, delivery.key)
    if decision.outcome == "retry":
        row.status, row.next_attempt_at = "pending", decision.retry_at
        if message is not None and message is not row:
            message.status = "pending"
        return "retry"
    row.status = "failed"
    if isinstance(row, CampaignRecipient):
        row.failed_at = now
    if message is not None:
        message.status, message.error_code = "failed", code
    if decision.undeliverable:
        marketing.mark_undeliverable(session, delivery.customer_id, code or "131026", now)
    if decision.pause_reason and delivery.campaign_id is not None:
        campaigns.pause_if_sending(session, delivery.campaign_id, now, decision.pause_reason)
    return "failed"


def reconcile(session: Session, now: dt.datetime, limit: int = 500) -> int:
    """Rows left ``sending`` by a sender that died mid-request: sent, unconfirmed (never sent again)."""
    dead = now - DEAD_AFTER
    found = 0
    models: tuple[type[Row], ...] = (CampaignRecipient, MarketingMessage)
    for model in models:
        rows: list[Row] = session.scalars(
            select(model)
            .where(model.status == "sending", model.lease_until < dead)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()  # type: ignore[assignment]
        for row in rows:
            kind = "recipient" if isinstance(row, CampaignRecipient) else "message"
            delivery = Delivery(kind, row.id, row.idempotency_key, row.customer_id, "", "", "", (), None)
            record_sent(session, delivery, None, now, unconfirmed=True)
            found += 1
    return found
