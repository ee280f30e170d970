"""Points expire a set number of months after they were earned, oldest first.

Reminders before points expire are an automation (``domain.automation_finders.expiring``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import ledger
from domain.customers import Customer
from domain.ledger import LedgerEntry


def expire_due(session: Session, now: dt.datetime, batch: int = 500) -> int:
    """Expire one batch of lots whose time has come (``expires_at <= now``); returns lots expired.

    One ``expire`` entry per lot, keyed by the lot, so a rerun never expires twice.
    """
    due = session.execute(
        select(LedgerEntry.id, LedgerEntry.customer_id)
        .where(LedgerEntry.remaining > 0, LedgerEntry.expires_at <= now)
        .order_by(LedgerEntry.customer_id, LedgerEntry.expires_at, LedgerEntry.id)
        .limit(batch)
    ).all()
    done = 0
    locked: dict[int, Customer] = {}
    for lot_id, customer_id in due:
        customer = locked.get(customer_id) or ledger.lock_customer(session, customer_id)
        locked[customer_id] = customer
        lot = session.get(LedgerEntry, lot_id, populate_existing=True)
        if lot is None or lot.remaining <= 0:
            continue
        points = lot.remaining
        lot.remaining = 0
        session.add(
            LedgerEntry(
                customer_id=customer_id,
                kind="expire",
                delta=-points,
                idempotency_key=f"expire:{lot.id}",
                remaining=0,
                owed_delta=0,
                description="points expired",
                created_at=now,
            )
        )
        customer.points_balance -= points
        done += 1
    session.flush()
    return done


@dataclass(frozen=True)
class Expiring:
    points: int
    expires_at: dt.datetime


def expiring_soon(session: Session, customer_id: int, now: dt.datetime, days: int) -> Expiring | None:
    """Points expiring within ``days``, and the first date, for the customer's own view."""
    row = session.execute(
        select(func.sum(LedgerEntry.remaining), func.min(LedgerEntry.expires_at)).where(
            LedgerEntry.customer_id == customer_id,
            LedgerEntry.remaining > 0,
            LedgerEntry.expires_at > now,
            LedgerEntry.expires_at <= now + dt.timedelta(days=days),
        )
    ).one()
    if not row[0] or row[1] is None:
        return None
    return Expiring(int(row[0]), row[1])
