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
on the customer and one of them creates the order. A sale given by phone finds and locks the member in
one statement (``lock_member_by_phone``) and hands the locked row to ``record_sale``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from domain import ledger, order_batches, orders
from domain.customers import Customer
from domain.errors import DomainError, NotFound
from domain.orders import OrderData, ReturnData
from domain.rules import ProgramRules
from domain.sales import Order, OrderReturn


class OrderConflict(DomainError):
    code = "order_conflict"


@dataclass(frozen=True)
class Posted:
    order: Order
    customer: Customer
    created: bool


# Built once, like the lock by id: a till's sale names the member by phone.
_LOCK_BY_PHONE = (
    select(Customer)
    .where(Customer.phone == bindparam("phone"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_member_by_phone(session: Session, phone: str) -> Customer | None:
    """The member with this (normalised) phone, its row locked as ``ledger.lock_customer`` locks it."""
    return session.scalar(_LOCK_BY_PHONE, {"phone": phone})


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

    ``locked`` is the customer already locked in this session (``lock_member_by_phone``); without it the
    row is locked here by ``data.customer_id``.
    """
    orders.validate_order(data)
    if locked is not None and locked.id != data.customer_id:
        raise ValueError("the locked customer is not the sale's")
    customer = locked if locked is not None else ledger.lock_customer(session, data.customer_id)
    known = _order(session, data.erp_order_id, lock=True)
    if known is not None:
        if known.customer_id != data.customer_id:
            raise OrderConflict(f"order {data.erp_order_id} belongs to another member", field="order_id")
        return Posted(known, customer, False)
    # The common sale (a member with no referral, affiliate or owed points pending) in the ERP batch
    # path's few statements; any other through the ERP's per-order code. Both earn exactly the same.
    order = order_batches.record_one(session, customer, data, rules, now, store=store)
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
