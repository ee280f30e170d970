"""Sales and returns posted directly by tills and web shops (the integration API), not synced.

Invariants:
- A posted sale is an ``Order`` like any synced from the ERP, keyed by the same ``erp_order_id``: a
  sale posted here and later read from the ERP earns once (the ERP's copy finds it and at most corrects
  it), and one posted twice earns once.
- Posting a known order again changes nothing and answers the order as it is; posting it for another
  member is refused (``OrderConflict``), never moved.
- A return is keyed by its ``erp_return_id`` in the same way: the same return twice takes points once.

Locking: ``record_sale`` and ``record_return`` lock the customer row first; the look-ups here run
under that lock (the customer is locked before the order is read), so twenty retries at once serialise
on the customer and one of them creates the order. A till's sale finds and locks the member, by id or
by phone, and reads the program's rules in one statement (``lock_member``), and hands the locked row
to ``record_sale``, whose first statement under the lock asks whether the order is known, what the
member spent in the tier window and whether any campaign runs on the sale's day (a statement of its
own: it must see what was committed while it waited for the lock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session

from domain import earning, ledger, order_batches, orders, tiers
from domain.customers import Customer
from domain.earning import Campaign
from domain.errors import DomainError, NotFound
from domain.orders import OrderData, ReturnData
from domain.rules import RULES_VALUE, ProgramRules, rules_from_value
from domain.sales import Order, OrderReturn


class OrderConflict(DomainError):
    code = "order_conflict"


@dataclass(frozen=True)
class Posted:
    order: Order
    customer: Customer
    created: bool


# Built once, like ``ledger.lock_customer``'s: the member locked by id or by (normalised) phone, with the
# program's rules read in the same round trip (the rules are not locked: a sale reads them as it finds them).
def _lock_member_where(condition: ColumnElement[bool]) -> Select[tuple[Customer, Any]]:
    return (
        select(Customer, RULES_VALUE.scalar_subquery())
        .where(condition)
        .with_for_update(of=Customer)
        .execution_options(populate_existing=True)
    )


_LOCK_BY = {
    "customer_id": _lock_member_where(Customer.id == bindparam("customer_id")),
    "phone": _lock_member_where(Customer.phone == bindparam("phone")),
}


def lock_member(
    session: Session, *, customer_id: int | None = None, phone: str | None = None
) -> tuple[Customer, ProgramRules] | None:
    """The member, by id or by normalised phone, its row locked as ``ledger.lock_customer`` locks it, and
    the program's rules; ``None`` when there is no such member."""
    by, value = ("customer_id", customer_id) if customer_id is not None else ("phone", phone)
    row = session.execute(_LOCK_BY[by], {by: value}).one_or_none()
    if row is None:
        return None
    customer, stored_rules = row
    return customer, rules_from_value(stored_rules)


# Under the member's lock: the order's id if it is known, the member's spend in the tier window
# (``tiers.rolling_spend``), and whether any campaign runs on the sale's day (most days none does, and the
# campaigns need no look of their own), in one round trip.
_KNOWN_SPEND_CAMPAIGNS = select(
    select(Order.id).where(Order.erp_order_id == bindparam("erp_order_id")).scalar_subquery(),
    tiers.SPEND.scalar_subquery(),
    select(func.count(Campaign.id)).where(earning.running_on(bindparam("day"))).scalar_subquery(),
)


def record_sale(
    session: Session,
    data: OrderData,
    rules: ProgramRules,
    now: dt.datetime,
    *,
    store: str | None = None,
    locked: Customer | None = None,
) -> Posted:
    """Create the order and what it earns, or answer the order already known under that id.

    ``locked`` is the customer already locked in this session (``lock_member``); without it the
    row is locked here by ``data.customer_id``.
    """
    orders.validate_order(data)
    if locked is not None and locked.id != data.customer_id:
        raise ValueError("the locked customer is not the sale's")
    customer = locked if locked is not None else ledger.lock_customer(session, data.customer_id)
    since = now - dt.timedelta(days=rules.tier_window_days)
    day = rules.local_date(data.order_date)
    params = {"erp_order_id": data.erp_order_id, "customer_id": customer.id, "since": since, "day": day}
    # On the session's connection: nothing of the ORM's to flush or load (the lock's statement just flushed).
    known_id, spend, campaigns = session.connection().execute(_KNOWN_SPEND_CAMPAIGNS, params).one()
    known = _order(session, data.erp_order_id, lock=True) if known_id is not None else None
    if known is not None:
        if known.customer_id != data.customer_id:
            raise OrderConflict(f"order {data.erp_order_id} belongs to another member", field="order_id")
        return Posted(known, customer, False)
    # The common sale (a member with no referral, affiliate or owed points pending) in the ERP batch
    # path's few statements; any other through the ERP's per-order code. Both earn exactly the same.
    looked: dict[dt.date, list[earning.CampaignTerms]] = {day: []} if campaigns == 0 else {}
    order = order_batches.record_one(session, customer, data, rules, now, store=store, spend=spend, known=looked)
    if order is None:
        order = orders.create_order(session, customer, data, rules, now, store=store)
    return Posted(order, customer, True)


def _order(session: Session, erp_order_id: str, *, lock: bool = False) -> Order | None:
    stmt = select(Order).where(Order.erp_order_id == erp_order_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


@dataclass(frozen=True)
class Returned:
    order_return: OrderReturn
    order: Order
    created: bool


def record_return(session: Session, data: ReturnData, rules: ProgramRules, now: dt.datetime) -> Returned:
    """Take back the points of a return once; the same ``return_id`` again answers the first return."""
    order = _order(session, data.erp_order_id)
    if order is None:
        raise NotFound(f"no order {data.erp_order_id}", field="order_id")
    ledger.lock_customer(session, order.customer_id)
    known = _return(session, data.erp_return_id)
    if known is not None:
        if known.order_id != order.id:
            raise OrderConflict(f"return {data.erp_return_id} belongs to another order", field="return_id")
        return Returned(known, order, False)
    orders.record_return(session, data, rules, now)
    created = _return(session, data.erp_return_id)
    assert created is not None
    return Returned(created, order, True)


def _return(session: Session, erp_return_id: str) -> OrderReturn | None:
    return session.scalar(select(OrderReturn).where(OrderReturn.erp_return_id == erp_return_id))
