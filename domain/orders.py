"""Orders into points: earning, corrections, cancellations and returns.

One mechanism serves every case: work out what the order *should* have earned
now (``_target_points``) and post the difference to the ledger under a key
unique to the event. Replaying an event finds its key and does nothing.
See docs/POLICIES.md for the policy when returned points were already spent.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import affiliates, earning, ledger, referrals, tiers
from domain.customers import Customer
from domain.db import money
from domain.errors import NotFound, ValidationError
from domain.notifications import notify
from domain.rules import ProgramRules
from domain.sales import Order, OrderLine, OrderReturn
from domain.timeutil import add_months


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class LineData:
    line_no: int
    amount: Decimal
    erp_product_id: str | None = None
    category: str | None = None
    qty: Decimal = Decimal(1)


@dataclass(frozen=True)
class OrderData:
    erp_order_id: str
    customer_id: int
    order_date: dt.datetime
    net_amount: Decimal
    status: str = "completed"
    bill_no: str | None = None
    lines: Sequence[LineData] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReturnData:
    erp_return_id: str
    erp_order_id: str
    return_date: dt.datetime
    amount: Decimal


def validate_order(data: OrderData) -> None:
    if data.net_amount < 0:
        raise ValidationError(f"order {data.erp_order_id} has a negative amount")
    if data.status not in ("completed", "cancelled"):
        raise ValidationError(f"order {data.erp_order_id} has unknown status {data.status!r}")
    if any(line.amount < 0 for line in data.lines):
        raise ValidationError(f"order {data.erp_order_id} has a line with a negative amount")


def record_order(session: Session, data: OrderData, rules: ProgramRules, now: dt.datetime) -> Outcome:
    """Create or correct an order and everything it earns."""
    validate_order(data)
    customer = ledger.lock_customer(session, data.customer_id)
    order = session.scalar(select(Order).where(Order.erp_order_id == data.erp_order_id).with_for_update())
    if order is None:
        _create(session, customer, data, rules, now)
        return Outcome.CREATED
    if order.customer_id != customer.id:
        raise ValidationError(f"order {data.erp_order_id} moved to another customer; fix it in the ERP")
    if not _changed(order, data):
        return Outcome.UNCHANGED
    _update(session, customer, order, data, rules, now)
    return Outcome.UPDATED


def create_order(
    session: Session,
    customer: Customer,
    data: OrderData,
    rules: ProgramRules,
    now: dt.datetime,
    *,
    store: str | None = None,
) -> Order:
    """Record a new order and what it earns, for a caller that already holds ``customer``'s lock (taken
    with ``ledger.lock_customer``) and has looked under that lock that ``data.erp_order_id`` is new."""
    validate_order(data)
    return _create(session, customer, data, rules, now, store)


def _create(
    session: Session,
    customer: Customer,
    data: OrderData,
    rules: ProgramRules,
    now: dt.datetime,
    store: str | None = None,
) -> Order:
    order = Order(
        store=store,
        erp_order_id=data.erp_order_id,
        bill_no=data.bill_no,
        customer_id=customer.id,
        order_date=data.order_date,
        net_amount=money(data.net_amount),
        returned_amount=Decimal(0),
        status=data.status,
        earn_tier=customer.tier,
        points_awarded=0,
        points_earned=0,
        revision=0,
        created_at=now,
        updated_at=now,
        lines=[_line(line) for line in data.lines],
    )
    if order.status != "completed":
        session.add(order)
        session.flush()
        return order
    # Priced before the INSERT, so that the order is written once with its points (no UPDATE after).
    order.points_earned, target = _target_points(session, order, rules, reprice=True)
    order.points_awarded = target
    session.add(order)
    session.flush()
    if target > 0:
        _credit(session, customer, order, target, rules, now, f"erp:order:{order.erp_order_id}")
    if order.points_awarded > 0:
        notify(
            session,
            customer.id,
            "points_earned",
            f"points:order:{order.erp_order_id}",
            {
                "points": order.points_awarded,
                "bill_no": order.bill_no or order.erp_order_id,
                "amount": str(order.net_amount),
                "balance": customer.points_balance,
            },
            now,
        )
    _after_purchase(session, customer, order, rules, now)
    return order


def _after_purchase(session: Session, customer: Customer, order: Order, rules: ProgramRules, now: dt.datetime) -> None:
    """What a completed purchase triggers besides points; each step is idempotent.

    Also run when an order first recorded as cancelled is completed later.
    """
    first = customer.first_purchase_at is None
    if first:
        customer.first_purchase_at = order.order_date
    if order.net_amount - order.returned_amount >= rules.referral_min_purchase:
        referrals.reward_first_purchase(session, customer, rules, now, order.id)
    affiliates.record_purchase_commission(
        session, customer, order.id, order.erp_order_id, order.net_amount, order.order_date, first, now
    )
    tiers.evaluate(session, customer, rules, now)


def _line(line: LineData) -> OrderLine:
    return OrderLine(
        line_no=line.line_no,
        erp_product_id=line.erp_product_id,
        category=line.category,
        qty=line.qty,
        amount=money(line.amount),
    )


def _changed(order: Order, data: OrderData) -> bool:
    lines_now = [(ln.line_no, ln.amount, ln.category) for ln in order.lines]
    lines_new = [(ln.line_no, money(ln.amount), ln.category) for ln in data.lines]
    return (
        order.net_amount != money(data.net_amount)
        or order.status != data.status
        or order.order_date != data.order_date
        or order.bill_no != data.bill_no
        or (bool(lines_new) and lines_now != lines_new)
    )


def _update(
    session: Session, customer: Customer, order: Order, data: OrderData, rules: ProgramRules, now: dt.datetime
) -> None:
    was_cancelled = order.status != "completed"
    order.revision += 1
    order.net_amount = money(data.net_amount)
    order.status = data.status
    order.order_date = data.order_date
    order.bill_no = data.bill_no
    if data.lines:
        # Delete the old lines first: the unit of work would insert the new
        # ones before deleting, and (order, line_no) is unique.
        order.lines.clear()
        session.flush()
        order.lines = [_line(line) for line in data.lines]
        session.flush()
    order.updated_at = now
    _post_difference(session, customer, order, rules, now, f"erp:order:{order.erp_order_id}:r{order.revision}")
    if order.status == "completed" and was_cancelled:
        _after_purchase(session, customer, order, rules, now)
    _adjust_commission(session, order, f"commission:order:{order.erp_order_id}:r{order.revision}", now)
    _reverse_referral_if_unqualified(session, customer, order, rules, now)
    if order.status == "completed":
        tiers.evaluate(session, customer, rules, now)


def _reverse_referral_if_unqualified(
    session: Session, customer: Customer, order: Order, rules: ProgramRules, now: dt.datetime
) -> None:
    kept = order.net_amount - order.returned_amount if order.status == "completed" else Decimal(0)
    referrals.reverse_if_unqualified(session, customer, order.id, kept, rules, now)


def record_return(session: Session, data: ReturnData, rules: ProgramRules, now: dt.datetime) -> Outcome:
    """A full or partial return takes back the points (and commission) in proportion, once."""
    if data.amount <= 0:
        raise ValidationError(f"return {data.erp_return_id} must have a positive amount")
    order = session.scalar(select(Order).where(Order.erp_order_id == data.erp_order_id))
    if order is None:
        raise NotFound(f"return {data.erp_return_id} is for order {data.erp_order_id}, which we have not seen")
    customer = ledger.lock_customer(session, order.customer_id)
    order = session.scalar(
        select(Order).where(Order.id == order.id).with_for_update().execution_options(populate_existing=True)
    )
    assert order is not None
    existing = session.scalar(select(OrderReturn).where(OrderReturn.erp_return_id == data.erp_return_id))
    amount = money(data.amount)
    previous = existing.amount if existing else Decimal(0)
    if existing is not None and previous == amount:
        return Outcome.UNCHANGED
    if order.returned_amount - previous + amount > order.net_amount:
        raise ValidationError(
            f"return {data.erp_return_id} of {amount} brings returns above the order's {order.net_amount}"
        )
    order.returned_amount = order.returned_amount - previous + amount
    order.updated_at = now
    if existing is None:
        existing = OrderReturn(
            erp_return_id=data.erp_return_id,
            order_id=order.id,
            return_date=data.return_date,
            amount=amount,
            points_clawed=0,
            created_at=now,
        )
        session.add(existing)
        key = f"erp:return:{data.erp_return_id}"
    else:
        existing.amount = amount
        order.revision += 1
        key = f"erp:return:{data.erp_return_id}:r{order.revision}"
    before = order.points_awarded
    _post_difference(session, customer, order, rules, now, key, reprice=False)
    existing.points_clawed += before - order.points_awarded
    _adjust_commission(session, order, f"commission:{key}", now)
    _reverse_referral_if_unqualified(session, customer, order, rules, now)
    if before > order.points_awarded:
        notify(
            session,
            customer.id,
            "points_returned",
            f"points:{key}",
            {"points": before - order.points_awarded, "bill_no": order.bill_no or order.erp_order_id},
            now,
        )
    return Outcome.CREATED if previous == 0 else Outcome.UPDATED


def _target_points(session: Session, order: Order, rules: ProgramRules, *, reprice: bool) -> tuple[int, int]:
    """What the order earns before returns, and what it keeps after them.

    A return never re-prices: it keeps a share of what the order earned, so a
    change of the earn rate or a campaign since the sale cannot make a return
    give points. A new order or a correction of its amount, lines or status is
    priced with the rules and the campaigns running on its (shop-local) date.
    """
    if order.status != "completed":
        return order.points_earned, 0
    earned = order.points_earned
    if reprice:
        campaigns = earning.running_campaigns(session, rules.local_date(order.order_date))
        lines = [earning.Line(ln.amount, ln.category) for ln in order.lines]
        earned = earning.points_for_order(rules, order.net_amount, lines, order.earn_tier, campaigns)
    return earned, earning.points_kept_after_return(earned, order.net_amount, order.returned_amount)


def _post_difference(
    session: Session,
    customer: Customer,
    order: Order,
    rules: ProgramRules,
    now: dt.datetime,
    key: str,
    *,
    reprice: bool = True,
) -> None:
    earned, target = _target_points(session, order, rules, reprice=reprice)
    order.points_earned = earned
    diff = target - order.points_awarded
    if diff > 0:
        _credit(session, customer, order, diff, rules, now, key)
    elif diff < 0:
        ledger.debit(
            session,
            customer,
            kind="clawback",
            points=-diff,
            key=key,
            now=now,
            allow_shortfall=True,
            description=f"return or correction of bill {order.bill_no or order.erp_order_id}"[:200],
            order_id=order.id,
        )
    order.points_awarded = target


def _credit(
    session: Session, customer: Customer, order: Order, points: int, rules: ProgramRules, now: dt.datetime, key: str
) -> None:
    ledger.credit(
        session,
        customer,
        kind="earn",
        points=points,
        key=key,
        now=now,
        expires_at=add_months(order.order_date, rules.expiry_months),
        description=f"bill {order.bill_no or order.erp_order_id}"[:200],
        order_id=order.id,
    )


def _adjust_commission(session: Session, order: Order, key: str, now: dt.datetime) -> None:
    kept = Decimal(0) if order.status != "completed" else order.net_amount - order.returned_amount
    target = affiliates.order_commission_target(session, order.id, order.net_amount, kept)
    affiliates.adjust_for_order(session, order.customer_id, order.id, order.erp_order_id, target, key, now)
