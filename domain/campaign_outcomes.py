"""The Graph API's answer to one marketing message, written back to its row (see ``domain.campaign_sending``).

``begin_send`` commits ``sending`` just before the request; ``record_sent`` / ``record_error``
write the answer; ``reconcile`` settles rows whose sender died mid-request as sent, unconfirmed
(never sent twice). An accepted message sets ``MarketingMessage.accepted_at``, which the weekly
cap and the 24-hour limit count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Insert, Table, Update, bindparam, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain import campaigns, marketing
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_sending import DEAD_AFTER, Delivery, Row
from domain.db import UTCDateTime
from domain.send_policy import Decision


def _model(kind: str) -> type[Row]:
    return CampaignRecipient if kind == "recipient" else MarketingMessage


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _locked(session: Session, kind: str, row_id: int) -> Row | None:
    if kind == "recipient":
        return session.get(CampaignRecipient, row_id, with_for_update=True)
    return session.get(MarketingMessage, row_id, with_for_update=True)


def begin_send(session: Session, delivery: Delivery, owner: str, now: dt.datetime) -> bool:
    """Mark the row ``sending`` just before the request; False if it is no longer ours to send
    (the lease ran out, or its campaign was paused or cancelled meanwhile).

    Core statements, built once: this runs between a send slot and its request, so its cost is
    the sender's pace."""
    if delivery.kind == "recipient":
        params = {"row_id": delivery.id, "owner": owner, "now": now}
        if session.execute(_BEGIN_RECIPIENT, params).rowcount != 1:  # type: ignore[attr-defined]
            return False
        _attempt_record(session, delivery, now)
        return True
    params = {"row_id": delivery.id, "owner": owner, "now": now}
    return bool(session.execute(_BEGIN_MESSAGE, params).rowcount == 1)  # type: ignore[attr-defined]


def _begin(table: Table, *, live: bool) -> Update:
    stmt = update(table).where(
        table.c.id == bindparam("row_id"),
        table.c.status == "pending",
        table.c.lease_owner == bindparam("owner"),
        table.c.lease_until > bindparam("now", type_=UTCDateTime()),
    )
    values: dict[str, Any] = {"status": "sending", "attempts": table.c.attempts + 1}
    if live:
        campaign = _table(MessageCampaign)
        stmt = stmt.where(exists().where(campaign.c.id == table.c.campaign_id, campaign.c.status == "sending"))
    else:
        values["last_attempt_at"] = bindparam("now", type_=UTCDateTime())
    return stmt.values(**values)


_BEGIN_RECIPIENT = _begin(_table(CampaignRecipient), live=True)
_BEGIN_MESSAGE = _begin(_table(MarketingMessage), live=False)


def _attempt_record(session: Session, delivery: Delivery, now: dt.datetime) -> None:
    """The campaign message's row in ``marketing_messages``: the member's last attempt (the 6-second gap).
    One upsert on its idempotency key."""
    dialect = session.get_bind().dialect.name
    if dialect not in _ATTEMPT:
        _ATTEMPT[dialect] = _attempt_upsert(dialect)
    params = {
        "customer_id": delivery.customer_id,
        "campaign_id": delivery.campaign_id,
        "idempotency_key": delivery.key,
        "template_name": delivery.template,
        "template_language": delivery.language,
        "template_parameters": list(delivery.parameters),
        "now": now,
    }
    session.execute(_ATTEMPT[dialect], params)


def _attempt_upsert(dialect: str) -> Insert:
    """Built once per dialect (an upsert's ``ON CONFLICT`` clause has no cache key: built per call,
    it would be compiled anew for every message)."""
    table = _table(MarketingMessage)
    at = bindparam("now", type_=UTCDateTime())
    row = {
        "customer_id": bindparam("customer_id"),
        "origin": "campaign",
        "campaign_id": bindparam("campaign_id"),
        "idempotency_key": bindparam("idempotency_key"),
        "template_name": bindparam("template_name"),
        "template_language": bindparam("template_language"),
        "template_parameters": bindparam("template_parameters", type_=table.c.template_parameters.type),
        "status": "sending",
        "attempts": 1,
        "created_at": at,
        "last_attempt_at": at,
    }
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(row)
    again = {"status": "sending", "attempts": table.c.attempts + 1, "last_attempt_at": stmt.excluded.last_attempt_at}
    return stmt.on_conflict_do_update(index_elements=[table.c.idempotency_key], set_=again)


_ATTEMPT: dict[str, Insert] = {}


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


def record_sent_many(session: Session, sent: list[tuple[Delivery, str]], now: dt.datetime) -> None:
    """``record_sent`` for many accepted messages at once: two statements, each executed for every row.

    The sender's hot path (``bot.campaign_sender`` writes its answers every fraction of a second)."""
    recipients = [{"row_id": d.id, "wamid": w, "key": d.key, "now": now} for d, w in sent if d.kind == "recipient"]
    messages = [{"row_id": d.id, "wamid": w, "key": d.key, "now": now} for d, w in sent if d.kind == "message"]
    if recipients:
        session.execute(_SENT_RECIPIENT, recipients)
    if recipients or messages:
        session.execute(_SENT_MESSAGE, recipients + messages)


def _sent(table: Table, *, campaign_row: bool) -> Update:
    """Accepted: ``sent`` unless a webhook moved it further already (never back); the lease let go."""
    # (no IN list: an expanding parameter cannot be executed for many rows)
    fresh = or_(table.c.status == "sending", table.c.status == "pending")
    moved = case((fresh, "sent"), else_=table.c.status)
    at = bindparam("now", type_=UTCDateTime())
    values: dict[str, Any] = {
        "status": moved,
        "wamid": func.coalesce(bindparam("wamid"), table.c.wamid),
        "lease_until": None,
        "lease_owner": None,
    }
    if campaign_row:
        values |= {"unconfirmed": False, "sent_at": func.coalesce(table.c.sent_at, at)}
        return update(table).where(table.c.id == bindparam("row_id")).values(**values)
    values["accepted_at"] = func.coalesce(table.c.accepted_at, at)
    return update(table).where(table.c.idempotency_key == bindparam("key")).values(**values)


_SENT_RECIPIENT = _sent(_table(CampaignRecipient), campaign_row=True)
_SENT_MESSAGE = _sent(_table(MarketingMessage), campaign_row=False)


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
