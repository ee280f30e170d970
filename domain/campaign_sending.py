"""The send queue of marketing messages: campaign recipients and queued automation messages alike.

Invariants (the sender in ``bot.campaign_sender`` calls these, one short transaction each):
- ``claim`` leases due rows (``lease_owner``, ``lease_until``) with ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` serialises claimers), so two hosts never hold the same
  row. It re-checks each member first (consent, STOP, 131026, the weekly cap: ``marketing.why_held``)
  and skips with the reason; it leaves a member alone while a message to them went out less than
  ``member_gap_seconds`` ago; it takes nothing in quiet hours (unless the campaign ignores them)
  and nothing past the 24-hour messaging limit.
- ``begin_send`` moves one leased row to ``sending`` and commits *just before* the Graph API call.
  A row found ``sending`` with its lease long gone (``reconcile``) is one whose sender died during
  the call: the request may have reached Meta. It is never sent again: it counts as sent with
  ``unconfirmed`` set, and a status webhook carrying its key confirms it. So a kill -9 between
  the commit and the request leaves a member unsent (a window of microseconds), and never sends
  anybody twice (at most once). A row still ``pending`` whose lease ran out was never tried: it is
  simply claimed again.
- ``record_sent`` / ``record_error`` write the answer; an accepted message sets
  ``MarketingMessage.accepted_at`` (the cap and the 24-hour limit count it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from domain import campaigns, marketing
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_settings import CampaignSettings, in_quiet_hours
from domain.customers import Customer, chat_address
from domain.template_fields import fill, template_language

LEASE = dt.timedelta(seconds=30)  # a claim is about two seconds of sending; this leaves room for a slow host
# How long after its lease ran out a ``sending`` row is taken for dead (past the HTTP timeout of 10 s).
DEAD_AFTER = dt.timedelta(seconds=15)
LIMIT_WAIT = dt.timedelta(hours=1)  # an automation message past the 24-hour limit tries again later
Row = CampaignRecipient | MarketingMessage


@dataclass(frozen=True)
class Delivery:
    """One message to send, as the sender needs it (no ORM rows cross the transaction)."""

    kind: str  # recipient | message
    id: int
    key: str
    customer_id: int
    phone: str
    template: str
    language: str
    parameters: tuple[str, ...]
    campaign_id: int | None
    attempts: int = 0  # attempts before this one


def claim(
    session: Session, now: dt.datetime, settings: CampaignSettings, owner: str, limit: int
) -> tuple[list[Delivery], dict[str, int]]:
    """Lease up to ``limit`` due messages; returns them and how many were skipped, by reason."""
    skipped: dict[str, int] = {}
    left = marketing.messaging_limit_left(session, now, settings) - _in_flight(session, now)
    quiet = in_quiet_hours(settings.quiet_hours, now)
    rows: list[Row] = [*_due_recipients(session, now, quiet, limit), *_due_messages(session, now, quiet, limit)]
    rows = sorted(rows, key=lambda r: (r.next_attempt_at or now, r.id))[:limit]
    if not rows:
        return [], skipped
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(sorted({r.customer_id for r in rows}))))
    }
    reasons = _hold_reasons(session, rows, now, settings)
    recent = _recent_attempts(session, [r.customer_id for r in rows], now, settings)
    campaign_of = _campaigns(session, rows)
    out: list[Delivery] = []
    taken: set[int] = set()
    for row in rows:
        reason = reasons.get(row.id)
        if reason is not None:
            _skip(row, reason)
            skipped[reason] = skipped.get(reason, 0) + 1
        elif row.customer_id in recent:
            row.next_attempt_at = recent[row.customer_id] + dt.timedelta(seconds=settings.member_gap_seconds)
        elif row.customer_id in taken:  # a second message to one member in one batch waits its turn
            row.next_attempt_at = now + dt.timedelta(seconds=settings.member_gap_seconds)
        elif left <= 0:
            _over_limit(session, row, campaign_of, now, settings)
        else:
            left -= 1
            taken.add(row.customer_id)
            out.append(_lease(session, row, customers[row.customer_id], campaign_of, owner, now))
    return out, skipped


def _due_recipients(session: Session, now: dt.datetime, quiet: bool, limit: int) -> list[Row]:
    r, c = CampaignRecipient, MessageCampaign
    stmt = (
        select(r)
        .join(c, c.id == r.campaign_id)
        .where(c.status == "sending", r.status == "pending", r.next_attempt_at <= now, _free(r, now))
        .order_by(r.next_attempt_at, r.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=r)
    )
    if quiet:
        stmt = stmt.where(c.ignore_quiet_hours.is_(True))
    return list(session.scalars(stmt))


def _due_messages(session: Session, now: dt.datetime, quiet: bool, limit: int) -> list[Row]:
    if quiet:
        return []  # automations never send in quiet hours
    m = MarketingMessage
    stmt = (
        select(m)
        .where(m.status == "pending", m.next_attempt_at <= now, _free(m, now))
        .order_by(m.next_attempt_at, m.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def _free(model: type[Row], now: dt.datetime) -> ColumnElement[bool]:
    return or_(model.lease_until.is_(None), model.lease_until < now)


def _in_flight(session: Session, now: dt.datetime) -> int:
    """Members leased or mid-send right now: not yet in the 24-hour count, but about to be."""
    count = 0
    for model in (CampaignRecipient, MarketingMessage):
        count += int(
            session.scalar(
                select(func.count(model.id)).where(
                    model.status.in_(("pending", "sending")), model.lease_until.is_not(None), model.lease_until >= now
                )
            )
            or 0
        )
    return count


def _hold_reasons(
    session: Session, rows: Sequence[Row], now: dt.datetime, settings: CampaignSettings
) -> dict[int, str]:
    """Row id → why its member may not get it now (only rows held back)."""
    ids = sorted({r.customer_id for r in rows})
    reason = case(
        (Customer.erased_at.is_not(None), literal("erased")), else_=marketing.hold_reason(now, settings, exact=True)
    ).label("reason")
    by_member = {cid: str(why) for cid, why in session.execute(select(Customer.id, reason).where(Customer.id.in_(ids)))}
    test_members = set(session.scalars(select(Customer.id).where(Customer.id.in_(ids), Customer.is_test.is_(True))))
    out: dict[int, str] = {}
    for row in rows:
        found = by_member.get(row.customer_id, "erased")
        is_test = isinstance(row, MarketingMessage) and row.origin == "test"
        if row.customer_id in test_members and not is_test:
            found = "test"
        elif is_test and found == "capped":
            found = marketing.ELIGIBLE  # staff checking a template are not capped
        if found != marketing.ELIGIBLE:
            out[row.id] = found
    return out


def _recent_attempts(
    session: Session, customer_ids: Sequence[int], now: dt.datetime, settings: CampaignSettings
) -> dict[int, dt.datetime]:
    if settings.member_gap_seconds <= 0:
        return {}
    since = now - dt.timedelta(seconds=settings.member_gap_seconds)
    m = MarketingMessage
    stmt = (
        select(m.customer_id, func.max(m.last_attempt_at))
        .where(m.customer_id.in_(sorted(set(customer_ids))), m.last_attempt_at > since)
        .group_by(m.customer_id)
    )
    return {cid: at for cid, at in session.execute(stmt) if at is not None}


def _campaigns(session: Session, rows: Sequence[Row]) -> dict[int, MessageCampaign]:
    ids = sorted({r.campaign_id for r in rows if isinstance(r, CampaignRecipient)})
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(MessageCampaign).where(MessageCampaign.id.in_(ids)))}


def _skip(row: Row, reason: str) -> None:
    row.status, row.error_code, row.lease_until, row.lease_owner = "skipped", reason, None, None


def _over_limit(
    session: Session, row: Row, campaign_of: dict[int, MessageCampaign], now: dt.datetime, settings: CampaignSettings
) -> None:
    if isinstance(row, MarketingMessage):
        row.next_attempt_at = now + LIMIT_WAIT
        return
    campaign = campaign_of[row.campaign_id]
    if campaign.status == "sending":
        reason = f"the number's 24-hour messaging limit ({settings.messaging_limit_24h}) is reached"
        campaigns.pause(session, campaign, now, None, reason)


def _lease(
    session: Session,
    row: Row,
    customer: Customer,
    campaign_of: dict[int, MessageCampaign],
    owner: str,
    now: dt.datetime,
) -> Delivery:
    row.lease_owner, row.lease_until = owner, now + LEASE
    if isinstance(row, CampaignRecipient):
        campaign = campaign_of[row.campaign_id]
        name, language = campaign.template_name, template_language(campaign.template_language, customer)
        parameters = tuple(fill(session, customer, campaign.template_parameters, now))
        return Delivery(
            "recipient",
            row.id,
            row.idempotency_key,
            customer.id,
            chat_address(customer),
            name,
            language,
            parameters,
            campaign.id,
        )
    return Delivery(
        "message",
        row.id,
        row.idempotency_key,
        customer.id,
        chat_address(customer),
        row.template_name,
        row.template_language,
        tuple(row.template_parameters),
        row.campaign_id,
        row.attempts,
    )


def lease_owners(session: Session, now: dt.datetime) -> list[str]:
    """Who holds live leases now (a sender restarted on the same host may find its dead predecessor)."""
    owners: set[str] = set()
    for model in (CampaignRecipient, MarketingMessage):
        stmt = select(model.lease_owner).where(model.lease_until >= now - DEAD_AFTER, model.lease_owner.is_not(None))
        owners.update(o for o in session.scalars(stmt.distinct()) if o)
    return sorted(owners)


def expire_leases(session: Session, owners: Sequence[str], now: dt.datetime) -> int:
    """The owners are known dead: their claims go back now, their ``sending`` rows to ``reconcile``."""
    if not owners:
        return 0
    gone = now - DEAD_AFTER - dt.timedelta(seconds=1)
    count = 0
    for model in (CampaignRecipient, MarketingMessage):
        mine = model.lease_owner.in_(list(owners))
        count += session.execute(
            update(model).where(mine, model.status == "pending").values(lease_until=None, lease_owner=None)
        ).rowcount  # type: ignore[attr-defined]
        count += session.execute(update(model).where(mine, model.status == "sending").values(lease_until=gone)).rowcount  # type: ignore[attr-defined]
    return count
