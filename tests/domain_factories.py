"""Small builders for domain integration tests: customers, points, orders, returns."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import ledger, orders
from domain.customers import Customer, NewCustomer, enrol
from domain.ledger import LedgerEntry
from domain.notifications import Notification
from domain.rules import ProgramRules

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
RULES = ProgramRules()
_phones = itertools.count(1)


def new_phone() -> str:
    return f"+91981{next(_phones):07d}"


def make_customer(
    session: Session, now: dt.datetime = NOW, *, phone: str | None = None, name: str = "Test"
) -> Customer:
    customer, _ = enrol(session, NewCustomer(phone=phone or new_phone(), name=name), now)
    return customer


def give_points(
    session: Session,
    customer_id: int,
    points: int,
    *,
    now: dt.datetime = NOW,
    expires_at: dt.datetime | None = None,
    key: str | None = None,
) -> LedgerEntry:
    customer = ledger.lock_customer(session, customer_id)
    posting = ledger.credit(
        session,
        customer,
        kind="adjust",
        points=points,
        key=key or f"test:{customer_id}:{next(_phones)}",
        now=now,
        expires_at=expires_at if expires_at is not None else now + dt.timedelta(days=365),
    )
    return posting.entry


def record_order(
    session: Session,
    customer_id: int,
    erp_id: str,
    amount: str,
    *,
    when: dt.datetime = NOW,
    status: str = "completed",
    lines: tuple[orders.LineData, ...] = (),
    rules: ProgramRules = RULES,
    now: dt.datetime | None = None,
) -> orders.Outcome:
    data = orders.OrderData(
        erp_order_id=erp_id,
        customer_id=customer_id,
        order_date=when,
        net_amount=Decimal(amount),
        status=status,
        bill_no=f"B-{erp_id}",
        lines=lines,
    )
    return orders.record_order(session, data, rules, now or when)


def record_return(
    session: Session,
    erp_return_id: str,
    erp_order_id: str,
    amount: str,
    *,
    when: dt.datetime = NOW,
    rules: ProgramRules = RULES,
) -> orders.Outcome:
    data = orders.ReturnData(erp_return_id, erp_order_id, when, Decimal(amount))
    return orders.record_return(session, data, rules, when)


def balance(session: Session, customer_id: int) -> tuple[int, int]:
    """(cached balance, points owed), read fresh."""
    customer = session.get(Customer, customer_id, populate_existing=True)
    assert customer is not None
    return customer.points_balance, customer.points_owed


def entries(session: Session, customer_id: int, kind: str | None = None) -> list[LedgerEntry]:
    stmt = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id).order_by(LedgerEntry.id)
    if kind:
        stmt = stmt.where(LedgerEntry.kind == kind)
    return list(session.scalars(stmt))


def notifications(session: Session, customer_id: int, kind: str) -> list[Notification]:
    stmt = select(Notification).where(Notification.customer_id == customer_id, Notification.kind == kind)
    return list(session.scalars(stmt.order_by(Notification.id)))


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
