"""A till's sale (``direct_sales.record_sale``) writes exactly what the ERP's ``record_order`` writes.

The common sale takes the short path (``order_batches.record_one``: on PostgreSQL one statement for
the balance, order, lot and notifications); a member with a referral pending, an affiliate or owed
points goes through ``orders.create_order``. Either way the rows must be the ones ``record_order``
writes for the same orders, one by one, and a sale synced from the ERP later must earn nothing more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from domain import direct_sales, orders
from domain.customers import Customer
from domain.db import Database
from domain.ledger import verify
from domain.orders import LineData, OrderData, Outcome
from domain.rules import ProgramRules
from domain.sales import Order
from tests.integration.erp.test_erp_bulk_orders import NOW, RULES, _without_ids, batch, setup, snapshot

SALE_AMOUNT = Decimal("1499.00")


def _reset(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in ("notifications", "ledger_entries", "order_lines", "orders", "campaigns", "customers"):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def _by_record_order(db: Database) -> dict[str, Any]:
    with db.unit_of_work() as session:
        ids = setup(session)
    for item in batch(ids):
        with db.unit_of_work() as session:
            orders.record_order(session, item, RULES, NOW)
    with db.unit_of_work() as session:
        return snapshot(session)


def _by_till(db: Database) -> tuple[dict[str, Any], list[bool]]:
    with db.unit_of_work() as session:
        ids = setup(session)
    created = []
    for item in batch(ids):  # each sale its own transaction, as each API request is
        with db.unit_of_work() as session:
            created.append(direct_sales.record_sale(session, item, RULES, NOW, store="Pune-1").created)
    with db.unit_of_work() as session:
        assert verify(session) == []
        assert {o.store for o in session.scalars(select(Order))} == {"Pune-1"}
        return snapshot(session), created


def test_a_till_sale_writes_what_record_order_writes(database: Database) -> None:
    expected = _by_record_order(database)
    _reset(database)
    got, created = _by_till(database)
    assert created == [True] * 23 + [False]  # the repeated O0 answers the first
    assert _without_ids(got) == _without_ids(expected)
    assert sorted(row[3] for row in got["customers"]) == ["platinum", "platinum", "silver", "silver"]
    assert sum(1 for _, kind, _ in got["notes"] if kind == "tier_changed") == 4
    assert any(key.startswith("referral:") for key, *_ in got["ledger"])  # the referred friend's first purchase


def test_a_till_sale_synced_later_from_the_erp_earns_nothing_more(database: Database) -> None:
    with database.unit_of_work() as session:
        ids = setup(session)
    sale = OrderData("WEB-1", ids[0], NOW, SALE_AMOUNT, lines=(LineData(1, SALE_AMOUNT, "P1", "shoes"),))
    with database.unit_of_work() as session:
        posted = direct_sales.record_sale(session, sale, RULES, NOW)
        assert posted.created and posted.order.points_earned > 0
    with database.unit_of_work() as session:
        before = snapshot(session)
        assert orders.record_order(session, sale, RULES, NOW) is Outcome.UNCHANGED
    with database.unit_of_work() as session:
        assert snapshot(session) == before
        order = session.scalar(select(Order).where(Order.erp_order_id == "WEB-1"))
        assert order is not None and order.id == posted.order.id and [ln.line_no for ln in order.lines] == [1]


@pytest.mark.parametrize("campaign_day", [False, True], ids=["no-campaign", "campaign-day"])
def test_the_common_sale_is_one_write_on_postgresql(pg_database: Database, campaign_day: bool) -> None:
    with pg_database.unit_of_work() as session:
        ids = setup(session)  # with "Shoe week", 1-7 June
    sale = dataclasses.replace(batch(ids)[0], lines=())
    sale = dataclasses.replace(sale, order_date=dt.datetime(2026, 6, 3, 12, 0, tzinfo=dt.UTC) if campaign_day else NOW)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(pg_database.engine, "before_cursor_execute", seen)
    try:
        with pg_database.unit_of_work() as session:
            posted = direct_sales.record_sale(session, sale, RULES, NOW)
    finally:
        event.remove(pg_database.engine, "before_cursor_execute", seen)
    # Lock the customer; under the lock one look for the order, the spend and whether a campaign runs
    # that day; the campaigns themselves only when one does; then one WITH.
    assert statements == ["SELECT", "SELECT"] + ["SELECT"] * campaign_day + ["WITH"]
    assert posted.created


@pytest.mark.parametrize("points_owed", [0, 40])
def test_owed_points_are_settled_by_a_till_sale_as_by_the_erp(database: Database, points_owed: int) -> None:
    results = []
    for record in (orders.record_order, _record_sale):
        _reset(database)
        with database.unit_of_work() as session:
            ids = setup(session)
            customer = session.get(Customer, ids[0])
            assert customer is not None
            customer.points_owed = points_owed
        with database.unit_of_work() as session:
            record(session, OrderData("WEB-2", ids[0], NOW, SALE_AMOUNT), RULES, NOW)
        with database.unit_of_work() as session:
            results.append(_without_ids(snapshot(session)))
    assert results[0] == results[1]


def _record_sale(session: Session, data: OrderData, rules: ProgramRules, now: dt.datetime) -> None:
    direct_sales.record_sale(session, data, rules, now)
