"""The program's totals (``loyalty totals`` and the dashboard): members, points by kind, sales.

Points are sums of ledger deltas by kind, so when ``loyalty verify`` is clean
``points_outstanding == points_earned - points_redeemed - points_expired - points_forfeited``:

- earned: purchases, referral bonuses and manual adjustments, net of what returns took back;
- redeemed: points spent on rewards, net of refunds for cancelled or expired vouchers;
- expired, forfeited (what erased members gave up): as debited.

An erasure adds a forfeit entry and changes nothing else, so the outstanding points fall by
exactly the forfeited balance while earned, redeemed, expired and sales stay as they were.
``members`` counts the people in the program: erased members' rows stay, as numbers, but are
nobody's any more. Test members (``Customer.is_test``, the console's simulator) are left out of every
figure, as the dashboard leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from domain.customers import Customer
from domain.db import CENT
from domain.ledger import LedgerEntry
from domain.sales import Order, OrderReturn

EARNED = ("earn", "referral_bonus", "bonus", "adjust", "clawback")
REDEEMED = ("redeem", "refund")


@dataclass(frozen=True)
class Totals:
    members: int
    points_outstanding: int
    points_earned: int
    points_redeemed: int
    points_expired: int
    points_forfeited: int
    sales_amount: Decimal

    def to_json(self) -> dict[str, Any]:
        """The contract's shape: integers for points, a decimal string for money."""
        return {
            "members": self.members,
            "points_outstanding": self.points_outstanding,
            "points_earned": self.points_earned,
            "points_redeemed": self.points_redeemed,
            "points_expired": self.points_expired,
            "points_forfeited": self.points_forfeited,
            "sales_amount": str(self.sales_amount.quantize(CENT)),
        }


def program_totals(session: Session) -> Totals:
    """Three aggregate queries: customers, ledger deltas by kind, completed orders."""
    members, outstanding = session.execute(
        select(
            func.count(Customer.id).filter(Customer.erased_at.is_(None)),
            func.coalesce(func.sum(Customer.points_balance), 0),
        ).where(Customer.is_test.is_(False))
    ).one()
    by_kind = {
        kind: int(total or 0)
        for kind, total in session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.delta))
            .where(~LedgerEntry.customer_id.in_(_test_members()))
            .group_by(LedgerEntry.kind)
        )
    }
    return Totals(
        members=int(members),
        points_outstanding=int(outstanding),
        points_earned=sum(by_kind.get(kind, 0) for kind in EARNED),
        points_redeemed=-sum(by_kind.get(kind, 0) for kind in REDEEMED),
        points_expired=-by_kind.get("expire", 0),
        points_forfeited=-by_kind.get("forfeit", 0),
        sales_amount=sales_amount(session),
    )


def sales_amount(session: Session) -> Decimal:
    """Completed orders, net of what was returned."""
    counted = (Order.status == "completed", ~Order.customer_id.in_(_test_members()))
    sold = session.scalar(select(func.sum(Order.net_amount)).where(*counted))
    returned = session.scalar(select(func.sum(Order.returned_amount)).where(*counted))
    return (Decimal(sold or 0) - Decimal(returned or 0)).quantize(CENT)


def _test_members() -> Select[Any]:
    return select(Customer.id).where(Customer.is_test.is_(True))


def freshness(session: Session) -> tuple[Any, ...]:
    """A cheap stamp that changes whenever the totals may have: newest ledger entry, member, erasure,
    order and return (each one index look-up), for caches of figures that must agree with these."""
    return tuple(
        session.execute(
            select(
                select(func.max(LedgerEntry.id)).scalar_subquery(),
                select(func.max(Customer.id)).scalar_subquery(),
                select(func.max(Customer.erased_at)).scalar_subquery(),
                select(func.max(Order.id)).scalar_subquery(),
                select(func.max(OrderReturn.id)).scalar_subquery(),
            )
        ).one()
    )
