"""The bulk path for new orders writes exactly what ``record_order`` writes, one by one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import orders, referrals
from domain.customers import Customer, NewCustomer, enrol
from domain.db import Database
from domain.earning import Campaign
from domain.ledger import LedgerEntry, verify
from domain.notifications import Notification
from domain.order_batches import record_new_orders
from domain.orders import LineData, OrderData, Outcome
from domain.rules import ProgramRules
from domain.sales import Order

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
RULES = ProgramRules(category_multipliers={"shoes": Decimal("2")})


def setup(session: Session) -> list[int]:
    ids = []
    for n in range(4):
        customer, _ = enrol(session, NewCustomer(phone=f"98123 4560{n}", source="erp"), NOW)
        ids.append(customer.id)
    referrer, friend = session.get(Customer, ids[2]), session.get(Customer, ids[3])
    assert referrer is not None and friend is not None
    referrals.attribute(session, friend, referrer, NOW, is_new=True)
    session.add(
        Campaign(
            name="Shoe week",
            starts_on=dt.date(2026, 6, 1),
            ends_on=dt.date(2026, 6, 7),
            multiplier=Decimal("1.5"),
            bonus_points=5,
            category="shoes",
            created_at=NOW,
        )
    )
    session.flush()
    return ids


def batch(ids: list[int]) -> list[OrderData]:
    day = dt.datetime(2026, 6, 3, 12, 0, tzinfo=dt.UTC)
    items = []
    for n in range(20):
        customer = ids[n % 2]  # two busy customers, crossing gold (25,000) and platinum (75,000)
        lines = (LineData(1, Decimal("4000.00"), "P1", "Shoes"), LineData(2, Decimal("3999.99"), "P2", None))
        items.append(
            OrderData(f"O{n}", customer, day + dt.timedelta(hours=n), Decimal("7999.99"), bill_no=f"B{n}", lines=lines)
        )
    items.append(OrderData("ZERO", ids[0], day, Decimal("0.00")))
    items.append(OrderData("FRIEND", ids[3], day, Decimal("900.00")))  # referral bonus: one by one
    items.append(OrderData("CANCELLED", ids[1], day, Decimal("100.00"), status="cancelled"))
    items.append(OrderData("O0", ids[0], day, Decimal("7999.99"), bill_no="B0"))  # repeated in the batch
    return items


def snapshot(session: Session) -> dict[str, Any]:
    def rows(model: type, *cols: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(getattr(r, c) for c in cols) for r in session.scalars(select(model)))

    return {
        "customers": rows(
            Customer, "id", "points_balance", "lifetime_points", "tier", "tier_changed_at", "first_purchase_at"
        ),
        "orders": rows(Order, "erp_order_id", "customer_id", "points_awarded", "points_earned", "earn_tier", "status"),
        "lines": sorted(
            (o.erp_order_id, ln.line_no, ln.category, ln.amount)
            for o in session.scalars(select(Order))
            for ln in o.lines
        ),
        "ledger": rows(LedgerEntry, "idempotency_key", "customer_id", "kind", "delta", "remaining", "expires_at"),
        "notes": sorted(
            (n.idempotency_key, n.kind, sorted(n.payload.items())) for n in session.scalars(select(Notification))
        ),
    }


def one_by_one(db: Database) -> dict[str, Any]:
    with db.unit_of_work() as session:
        ids = setup(session)
        for item in batch(ids):
            orders.record_order(session, item, RULES, NOW)
    with db.unit_of_work() as session:
        return snapshot(session)


def in_bulk(db: Database) -> tuple[dict[str, Any], list[Outcome | None]]:
    with db.unit_of_work() as session:
        ids = setup(session)
        items = batch(ids)
        outcomes = record_new_orders(session, items, RULES, NOW)
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome is None:
                orders.record_order(session, item, RULES, NOW)
    with db.unit_of_work() as session:
        assert verify(session) == []
        return snapshot(session), outcomes


def test_bulk_orders_match_one_by_one(database: Database) -> None:
    expected = one_by_one(database)
    with database.engine.begin() as conn:
        for table in ("notifications", "ledger_entries", "order_lines", "orders", "campaigns", "customers"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    got, outcomes = in_bulk(database)
    assert outcomes[:21] == [Outcome.CREATED] * 21
    assert outcomes[21:] == [None, None, None]  # referral, cancelled, repeated: handed back
    # Ids differ between the two runs; compare by position of creation.
    assert _without_ids(got) == _without_ids(expected)
    assert sorted(row[3] for row in got["customers"]) == ["platinum", "platinum", "silver", "silver"]
    assert sum(1 for _, kind, _ in got["notes"] if kind == "tier_changed") == 4


def _without_ids(snap: dict[str, Any]) -> dict[str, Any]:
    out = dict(snap)
    out["customers"] = sorted(row[1:] for row in snap["customers"])
    out["orders"] = sorted((row[0], *row[2:]) for row in snap["orders"])
    out["ledger"] = sorted((_no_id(row[0]), *row[2:]) for row in snap["ledger"])
    out["notes"] = sorted((_no_id(key), kind, payload) for key, kind, payload in snap["notes"])
    return out


def _no_id(key: str) -> str:
    """Tier and referral keys name a customer id, which differs between the runs."""
    parts = key.split(":")
    return ":".join([parts[0], *parts[2:]]) if parts[0] in ("tier", "referral") else key


def test_a_failing_bulk_insert_leaves_nothing_behind(database: Database) -> None:
    with database.unit_of_work() as session:
        ids = setup(session)
        item = dataclasses.replace(batch(ids)[0])
        orders.record_order(session, dataclasses.replace(item, erp_order_id="OTHER"), RULES, NOW)
        session.add(
            LedgerEntry(
                customer_id=ids[0], kind="earn", delta=1, idempotency_key="erp:order:O0", remaining=0, created_at=NOW
            )
        )
        session.flush()
    with database.unit_of_work() as session:
        before = snapshot(session)
        try:
            with session.begin_nested():
                record_new_orders(session, [item], RULES, NOW)
        except Exception as exc:  # noqa: BLE001 - the unique key refuses it
            assert "idempotency_key" in str(exc) or "UNIQUE" in str(exc).upper()
        else:
            raise AssertionError("a duplicate ledger key must refuse the bulk insert")
        assert snapshot(session) == before
