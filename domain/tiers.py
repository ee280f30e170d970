"""Tiers on rolling 12-month net spend: upgrade at once, downgrade only at review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from domain.customers import Customer
from domain.ledger import lock_customer
from domain.notifications import notify
from domain.rules import TIER_ORDER, ProgramRules
from domain.sales import Order


def tier_for_spend(spend: Decimal, thresholds: dict[str, Decimal]) -> str:
    """The highest tier whose threshold the spend reaches (reaching it exactly counts)."""
    reached = TIER_ORDER[0]
    for tier in TIER_ORDER:
        if spend >= thresholds[tier]:
            reached = tier
    return reached


def rank(tier: str) -> int:
    return TIER_ORDER.index(tier) if tier in TIER_ORDER else 0


@dataclass(frozen=True)
class TierProgress:
    tier: str
    spend: Decimal
    next_tier: str | None
    spend_to_next: Decimal


def progress(tier: str, spend: Decimal, thresholds: dict[str, Decimal]) -> TierProgress:
    """How far the next tier above the current one is, in money."""
    above = [t for t in TIER_ORDER if rank(t) > rank(tier)]
    if not above:
        return TierProgress(tier, spend, None, Decimal(0))
    nxt = above[0]
    return TierProgress(tier, spend, nxt, max(thresholds[nxt] - spend, Decimal(0)))


# Net spend (orders less returns) of ``customer_id`` since ``since``; cancelled orders count nothing. Built
# once (building it cost more CPU than running it); a till's sale reads it as a scalar subquery beside the
# order's look-up (``direct_sales``).
SPEND = select(
    type_coerce(  # the difference of two sums of money is money (the column type's stored unit)
        func.coalesce(func.sum(Order.net_amount), 0) - func.coalesce(func.sum(Order.returned_amount), 0),
        Order.net_amount.type,
    )
).where(
    Order.customer_id == bindparam("customer_id"), Order.order_date >= bindparam("since"), Order.status == "completed"
)


def rolling_spend(session: Session, customer_id: int, now: dt.datetime, window_days: int) -> Decimal:
    """Net spend (orders less returns) over the window; cancelled orders count nothing."""
    since = now - dt.timedelta(days=window_days)
    spend: Decimal = session.execute(SPEND, {"customer_id": customer_id, "since": since}).scalar_one()
    return spend


def evaluate(
    session: Session, customer: Customer, rules: ProgramRules, now: dt.datetime, *, allow_downgrade: bool = False
) -> str | None:
    """Re-evaluate the tier; returns the new tier if it changed (and records a notification)."""
    spend = rolling_spend(session, customer.id, now, rules.tier_window_days)
    target = tier_for_spend(spend, rules.tier_thresholds)
    if target == customer.tier or (rank(target) < rank(customer.tier) and not allow_downgrade):
        return None
    previous = customer.tier
    customer.tier = target
    customer.tier_changed_at = now
    notify(
        session,
        customer.id,
        "tier_changed",
        f"tier:{customer.id}:{now.isoformat()}:{target}",
        {"from": previous, "to": target, "upgrade": rank(target) > rank(previous)},
        now,
    )
    return target


def review(
    session: Session, rules: ProgramRules, now: dt.datetime, after_id: int = 0, batch: int = 500
) -> tuple[int, int]:
    """The periodic review, one batch of customers: ``(last id seen, tiers changed)``."""
    ids = list(session.scalars(select(Customer.id).where(Customer.id > after_id).order_by(Customer.id).limit(batch)))
    changed = 0
    for cid in ids:
        if evaluate(session, lock_customer(session, cid), rules, now, allow_downgrade=True):
            changed += 1
    return (ids[-1] if ids else after_id), changed
