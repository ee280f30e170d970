"""Affiliates: influencers, staff and partner shops who bring customers for money.

Commission is money (``Decimal`` with a currency), kept in its own ledger apart
from points: pending -> approved -> paid; a return adds a negative row that
nets against the next payout.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import audit
from domain.affiliate_models import Affiliate, Commission, Payout
from domain.codes import clean_code
from domain.customers import Customer, unique_referral_code
from domain.db import money
from domain.errors import InvalidTransition, NotFound, ReferralRefused, ValidationError
from domain.phones import normalize_phone
from domain.rules import ProgramRules

STATUSES = ("pending", "approved", "rejected", "suspended")
COMMISSION_TYPES = ("percent", "fixed")
COMMISSION_STATUSES = ("pending", "approved", "paid", "void")


def apply(
    session: Session,
    *,
    name: str,
    phone: str,
    now: dt.datetime,
    rules: ProgramRules,
    kind: str = "influencer",
    customer: Customer | None = None,
    note: str | None = None,
    country_code: int = 91,
) -> Affiliate:
    """A customer or partner asks to become an affiliate; staff decide later."""
    e164 = normalize_phone(phone, country_code)
    if not name.strip():
        raise ValidationError("an affiliate needs a name")
    existing = session.scalar(select(Affiliate).where(Affiliate.phone == e164))
    if existing is not None:
        return existing
    affiliate = Affiliate(
        customer_id=customer.id if customer else None,
        name=name.strip()[:200],
        phone=e164,
        kind=kind,
        code=unique_referral_code(session),
        status="pending",
        commission_type="percent",
        commission_percent=rules.affiliate_commission_percent,
        commission_fixed=Decimal(0),
        currency=rules.currency,
        window_days=rules.affiliate_window_days,
        note=note,
        applied_at=now,
    )
    session.add(affiliate)
    session.flush()
    return affiliate


def find_by_code(session: Session, code: str) -> Affiliate | None:
    return session.scalar(select(Affiliate).where(Affiliate.code == clean_code(code)))


def decide(
    session: Session, affiliate_id: int, status: str, *, actor: str, now: dt.datetime, reason: str | None = None
) -> Affiliate:
    """Approve, reject or suspend; audit-logged."""
    if status not in ("approved", "rejected", "suspended"):
        raise ValidationError(f"unknown affiliate decision {status}")
    affiliate = _get(session, affiliate_id)
    if affiliate.status == status:
        raise InvalidTransition(f"affiliate is already {status}")
    previous = affiliate.status
    affiliate.status = status
    affiliate.decided_at = now
    affiliate.decided_by = actor
    audit.record(
        session,
        actor=actor,
        action=f"affiliate.{status}",
        entity_type="affiliate",
        entity_id=affiliate.id,
        now=now,
        reason=reason,
        details={"from": previous, "to": status},
    )
    return affiliate


def set_terms(
    session: Session,
    affiliate_id: int,
    *,
    commission_type: str,
    percent: Decimal,
    fixed: Decimal,
    window_days: int,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> Affiliate:
    if commission_type not in COMMISSION_TYPES:
        raise ValidationError("commission type must be percent or fixed")
    if not Decimal(0) <= percent <= Decimal(100):
        raise ValidationError("commission percent must be between 0 and 100")
    if fixed < 0:
        raise ValidationError("fixed commission cannot be negative")
    if not 1 <= window_days <= 3650:
        raise ValidationError("attribution window must be between 1 and 3650 days")
    affiliate = _get(session, affiliate_id)
    before = {
        "type": affiliate.commission_type,
        "percent": str(affiliate.commission_percent),
        "fixed": str(affiliate.commission_fixed),
        "window_days": affiliate.window_days,
    }
    affiliate.commission_type = commission_type
    affiliate.commission_percent = percent
    affiliate.commission_fixed = money(fixed)
    affiliate.window_days = window_days
    audit.record(
        session,
        actor=actor,
        action="affiliate.terms",
        entity_type="affiliate",
        entity_id=affiliate.id,
        now=now,
        reason=reason,
        details={
            "before": before,
            "after": {
                "type": commission_type,
                "percent": str(percent),
                "fixed": str(fixed),
                "window_days": window_days,
            },
        },
    )
    return affiliate


def _get(session: Session, affiliate_id: int) -> Affiliate:
    affiliate = session.get(Affiliate, affiliate_id)
    if affiliate is None:
        raise NotFound(f"affiliate {affiliate_id} does not exist")
    return affiliate


def attribute(session: Session, customer: Customer, affiliate: Affiliate, now: dt.datetime, *, is_new: bool) -> None:
    """Credit a new customer to an affiliate, once; refuses self-referral by phone."""
    if affiliate.status != "approved":
        raise ReferralRefused("this affiliate code is not active")
    if affiliate.phone == customer.phone or affiliate.customer_id == customer.id:
        raise ReferralRefused("you cannot use your own affiliate code")
    if customer.affiliate_id is not None or customer.referred_by_id is not None:
        raise ReferralRefused("you were already referred")
    if not is_new or customer.first_purchase_at is not None:
        raise ReferralRefused("only new customers can use a referral code")
    customer.affiliate_id = affiliate.id
    customer.affiliate_attributed_at = now


def in_window(affiliate: Affiliate, customer: Customer, when: dt.datetime) -> bool:
    start = customer.affiliate_attributed_at
    return (
        start is not None
        and start <= when + dt.timedelta(days=1)
        and when < start + dt.timedelta(days=affiliate.window_days)
    )


def commission_for(affiliate: Affiliate, net_amount: Decimal, first_purchase: bool) -> Decimal:
    """Pure rule: a percentage of net purchases, or a fixed amount per first purchase."""
    if affiliate.commission_type == "fixed":
        return money(affiliate.commission_fixed) if first_purchase else Decimal("0.00")
    return money(net_amount * Decimal(affiliate.commission_percent) / 100)


def record_purchase_commission(
    session: Session,
    customer: Customer,
    order_id: int,
    erp_order_id: str,
    net_amount: Decimal,
    order_date: dt.datetime,
    first_purchase: bool,
    now: dt.datetime,
) -> Commission | None:
    """Commission earned by an order of an attributed customer, once per order."""
    if customer.affiliate_id is None:
        return None
    affiliate = session.get(Affiliate, customer.affiliate_id)
    if affiliate is None or affiliate.status != "approved" or not in_window(affiliate, customer, order_date):
        return None
    amount = commission_for(affiliate, net_amount, first_purchase)
    if amount <= 0:
        return None
    return _add(
        session,
        affiliate,
        customer.id,
        order_id,
        "first_purchase" if first_purchase and affiliate.commission_type == "fixed" else "purchase",
        amount,
        f"commission:order:{erp_order_id}",
        now,
    )


def adjust_for_order(
    session: Session, customer_id: int, order_id: int, erp_order_id: str, target: Decimal, key: str, now: dt.datetime
) -> Commission | None:
    """Bring the order's commission to ``target`` (after a return or an amount change)."""
    rows = list(session.scalars(select(Commission).where(Commission.order_id == order_id, Commission.status != "void")))
    if not rows:
        return None
    current = sum((c.amount for c in rows), Decimal(0))
    diff = money(target - current)
    if diff == 0:
        return None
    affiliate = session.get(Affiliate, rows[0].affiliate_id)
    assert affiliate is not None
    return _add(session, affiliate, customer_id, order_id, "reversal" if diff < 0 else "purchase", diff, key, now)


def order_commission_target(session: Session, order_id: int, net_amount: Decimal, kept_amount: Decimal) -> Decimal:
    """What an order's commission should be once only ``kept_amount`` of it was kept."""
    first = session.scalar(select(Commission).where(Commission.order_id == order_id).order_by(Commission.id).limit(1))
    if first is None or net_amount <= 0:
        return Decimal(0)
    if first.kind == "first_purchase":
        # A fixed amount per first purchase: all of it while any of the order is kept.
        return first.amount if kept_amount > 0 else Decimal(0)
    affiliate = session.get(Affiliate, first.affiliate_id)
    assert affiliate is not None
    return money(kept_amount * Decimal(affiliate.commission_percent) / 100)


def _add(
    session: Session,
    affiliate: Affiliate,
    customer_id: int,
    order_id: int | None,
    kind: str,
    amount: Decimal,
    key: str,
    now: dt.datetime,
) -> Commission | None:
    if session.scalar(select(Commission.id).where(Commission.idempotency_key == key)) is not None:
        return None
    row = Commission(
        affiliate_id=affiliate.id,
        customer_id=customer_id,
        order_id=order_id,
        kind=kind,
        amount=money(amount),
        currency=affiliate.currency,
        status="pending",
        idempotency_key=key,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def approve_commissions(session: Session, ids: list[int], *, actor: str, now: dt.datetime) -> int:
    rows = list(session.scalars(select(Commission).where(Commission.id.in_(ids), Commission.status == "pending")))
    for row in rows:
        row.status = "approved"
        row.approved_at = now
    if rows:
        audit.record(
            session,
            actor=actor,
            action="commission.approve",
            entity_type="commission",
            entity_id=",".join(str(r.id) for r in rows)[:64],
            now=now,
            details={"count": len(rows)},
        )
    return len(rows)


def mark_paid(
    session: Session, affiliate_id: int, *, actor: str, now: dt.datetime, reference: str | None = None
) -> Payout:
    """Pay every approved commission of an affiliate (reversals net against it) as one payout."""
    affiliate = _get(session, affiliate_id)
    rows = list(
        session.scalars(
            select(Commission)
            .where(Commission.affiliate_id == affiliate.id, Commission.status == "approved")
            .with_for_update()
        )
    )
    total = sum((r.amount for r in rows), Decimal(0))
    if not rows or total <= 0:
        raise InvalidTransition("nothing approved to pay for this affiliate")
    payout = Payout(
        affiliate_id=affiliate.id,
        amount=money(total),
        currency=affiliate.currency,
        reference=reference,
        created_by=actor,
        created_at=now,
    )
    session.add(payout)
    session.flush()
    for row in rows:
        row.status = "paid"
        row.paid_at = now
        row.payout_id = payout.id
    audit.record(
        session,
        actor=actor,
        action="payout.paid",
        entity_type="affiliate",
        entity_id=affiliate.id,
        now=now,
        reason=reference,
        details={"payout": payout.id, "amount": str(total), "commissions": len(rows)},
    )
    return payout


def totals(session: Session, affiliate_id: int) -> dict[str, Decimal]:
    """Commission per status, for the affiliate's own WhatsApp summary and the console."""
    out = {s: Decimal("0.00") for s in ("pending", "approved", "paid")}
    stmt = (
        select(Commission.status, func.sum(Commission.amount))
        .where(Commission.affiliate_id == affiliate_id)
        .group_by(Commission.status)
    )
    for status, amount in session.execute(stmt):
        if status in out:
            out[status] = money(amount or 0)
    return out


def stats(session: Session, affiliate_id: int) -> dict[str, int]:
    signups = session.scalar(select(func.count(Customer.id)).where(Customer.affiliate_id == affiliate_id)) or 0
    buyers = (
        session.scalar(
            select(func.count(Customer.id)).where(
                Customer.affiliate_id == affiliate_id, Customer.first_purchase_at.is_not(None)
            )
        )
        or 0
    )
    return {"signups": signups, "first_purchases": buyers}
