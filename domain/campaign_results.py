"""What a campaign did: delivery reports applied to recipients, replies, opt-outs, revenue, retargeting, CSV.

Invariants:
- A delivery report moves a recipient forward only (sent → delivered → read), never back; a
  ``failed`` report cannot undo a delivered or read message. A report finds its recipient by
  WhatsApp id, or by the key we sent as ``biz_opaque_callback_data`` (which also confirms a
  row that the sender could not record: ``unconfirmed``). 131026 marks the number undeliverable.
- A reply is any message from the member within ``reply_days`` of our message; an opt-out is a
  marketing withdrawal in the consent ledger after it.
- Revenue attributed: the net amount (less returns) of the members' completed orders, from the
  ERP and the API alike, dated within ``attribution_days`` after they read the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, func, select, type_coerce, update
from sqlalchemy.orm import Session

from domain import campaign_settings, campaigns, consents, marketing
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.consents import Consent
from domain.customers import Customer
from domain.sales import Order
from domain.segments import Segment

RANK = {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}
STREAM_BATCH = 1000


def apply_status(
    session: Session,
    wamid: str,
    status: str,
    at: dt.datetime,
    *,
    error_code: str | None = None,
    error: str | None = None,
    tracker: str | None = None,
) -> bool:
    """Apply one delivery report to the campaign recipient or marketing message it is about.

    True when the report was about one of ours (whether or not it changed anything).
    """
    row = _find(session, CampaignRecipient, wamid, tracker)
    message = _find(session, MarketingMessage, wamid, tracker)
    if row is None and message is None:
        return False
    if message is not None:
        _advance_message(message, wamid, status, error_code)
    if row is not None:
        _advance(session, row, wamid, status, at, error_code, error)
    return True


def _find(session: Session, model: Any, wamid: str, tracker: str | None) -> Any:
    found = session.scalar(select(model).where(model.wamid == wamid).with_for_update().limit(1))
    if found is None and tracker:
        found = session.scalar(select(model).where(model.idempotency_key == tracker).with_for_update())
    return found


def _advance(
    session: Session,
    row: CampaignRecipient,
    wamid: str,
    status: str,
    at: dt.datetime,
    error_code: str | None,
    error: str | None,
) -> None:
    row.wamid = row.wamid or wamid
    row.unconfirmed = False
    if status == "failed":
        if row.status in ("delivered", "read", "failed"):
            return
        row.status, row.failed_at, row.error_code, row.error = "failed", at, error_code, (error or "failed")[:300]
        if error_code == "131026":
            marketing.mark_undeliverable(session, row.customer_id, error_code, at)
        return
    if status not in RANK or RANK[status] <= RANK.get(row.status, 99):
        return
    row.status = status
    row.sent_at = row.sent_at or at
    if status in ("delivered", "read"):
        row.delivered_at = row.delivered_at or at
    if status == "read":
        row.read_at = row.read_at or at


def _advance_message(message: MarketingMessage, wamid: str, status: str, error_code: str | None) -> None:
    message.wamid = message.wamid or wamid
    if status == "failed" and message.status not in ("delivered", "read"):
        message.status, message.error_code = "failed", error_code
    elif status in RANK and RANK[status] > RANK.get(message.status, 99):
        message.status = status


def note_reply(session: Session, customer_id: int, now: dt.datetime, settings: CampaignSettings | None = None) -> int:
    """The member wrote to us: a reply to the campaign messages they got in the last ``reply_days``."""
    days = (settings or campaign_settings.load(session)).reply_days
    since = now - dt.timedelta(days=days)
    r = CampaignRecipient
    result = session.execute(
        update(r)
        .where(r.customer_id == customer_id, r.replied_at.is_(None), r.sent_at >= since, r.sent_at <= now)
        .values(replied_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Results:
    counts: dict[str, int]  # sent, delivered, read, failed, skipped, pending (cumulative)
    replied: int
    opted_out: int
    unconfirmed: int
    failed_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    buyers: int
    revenue: Decimal


def results(session: Session, campaign_id: int, settings: CampaignSettings) -> Results:
    r = CampaignRecipient
    mine = r.campaign_id == campaign_id
    replied = session.scalar(select(func.count(r.id)).where(mine, r.replied_at.is_not(None))) or 0
    unconfirmed = session.scalar(select(func.count(r.id)).where(mine, r.unconfirmed.is_(True))) or 0
    return Results(
        counts=campaigns.counts(session, campaign_id),
        replied=int(replied),
        opted_out=_opted_out(session, campaign_id),
        unconfirmed=int(unconfirmed),
        failed_by_reason=_by_code(session, campaign_id, "failed"),
        skipped_by_reason=_by_code(session, campaign_id, "skipped"),
        **_revenue(session, campaign_id, settings),
    )


def _by_code(session: Session, campaign_id: int, status: str) -> dict[str, int]:
    r = CampaignRecipient
    stmt = (
        select(r.error_code, func.count(r.id))
        .where(r.campaign_id == campaign_id, r.status == status)
        .group_by(r.error_code)
    )
    return {str(code or "unknown"): int(n) for code, n in session.execute(stmt)}


def _opted_out(session: Session, campaign_id: int) -> int:
    """Recipients who withdrew marketing consent after our message reached them."""
    r = CampaignRecipient
    withdrew = (
        select(Consent.id)
        .where(
            Consent.customer_id == r.customer_id,
            Consent.purpose == consents.MARKETING,
            Consent.granted.is_(False),
            Consent.recorded_at >= r.sent_at,
        )
        .exists()
    )
    stmt = select(func.count(r.id)).where(r.campaign_id == campaign_id, r.sent_at.is_not(None), withdrew)
    return int(session.scalar(stmt) or 0)


def _revenue(session: Session, campaign_id: int, settings: CampaignSettings) -> dict[str, Any]:
    r = CampaignRecipient
    net = type_coerce(Order.net_amount, BigInteger) - type_coerce(Order.returned_amount, BigInteger)
    stmt = (
        select(func.count(func.distinct(Order.customer_id)), func.coalesce(func.sum(net), 0))
        .join(r, r.customer_id == Order.customer_id)
        .where(
            r.campaign_id == campaign_id,
            r.read_at.is_not(None),
            Order.status == "completed",
            Order.order_date >= r.read_at,
            _within_days(session, Order.order_date, r.read_at, settings.attribution_days),
        )
    )
    buyers, paise = session.execute(stmt).one()
    return {"buyers": int(buyers or 0), "revenue": (Decimal(int(paise or 0)) / 100).quantize(Decimal("0.01"))}


def _within_days(session: Session, later: Any, earlier: Any, days: int) -> ColumnElement[bool]:
    """``later <= earlier + days`` in SQL (SQLite keeps times as text: compared as Julian days)."""
    if session.get_bind().dialect.name == "sqlite":
        condition: ColumnElement[bool] = func.julianday(later) <= func.julianday(earlier) + days
    else:
        condition = later <= earlier + func.make_interval(0, 0, 0, days)
    return condition


def retarget_unread(
    session: Session, campaign_id: int, now: dt.datetime, settings: CampaignSettings, actor: str | None
) -> MessageCampaign:
    """A new draft for the members who got this campaign's message but did not read it."""
    source = campaigns.get(session, campaign_id)
    segment = Segment.from_json({**source.segment, "unread_of_campaign": source.id})
    return campaigns.create(
        session,
        name=f"{source.name} (did not read)"[:120],
        template_name=source.template_name,
        language=source.template_language,
        parameters=source.template_parameters,
        segment=segment,
        now=now,
        settings=settings,
        category=source.category,
        ignore_quiet_hours=source.ignore_quiet_hours,
        actor=actor,
        retarget_of_id=source.id,
    )


CSV_HEADER = [
    "recipient_id",
    "member_id",
    "phone",
    "name",
    "status",
    "error_code",
    "wamid",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "replied_at",
    "unconfirmed",
]


def recipients_rows(session: Session, campaign_id: int) -> Iterator[list[Any]]:
    """The CSV rows of a campaign's recipients, streamed (memory stays flat); erased members as numbers only."""
    r, c = CampaignRecipient, Customer
    erased = c.erased_at.is_not(None)
    stmt = (
        select(r.id, c.id, c.phone, c.name, r.status, r.error_code, r.wamid, r.sent_at, r.delivered_at)
        .add_columns(r.read_at, r.failed_at, r.replied_at, r.unconfirmed, erased)
        .join(c, c.id == r.customer_id)
        .where(r.campaign_id == campaign_id)
        .order_by(r.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for row in session.execute(stmt):
        values = list(row)
        if values.pop():  # erased: no phone, no name
            values[2] = values[3] = ""
        yield ["" if v is None else (v.isoformat() if isinstance(v, dt.datetime) else v) for v in values]
