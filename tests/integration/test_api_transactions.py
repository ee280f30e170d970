"""``/api/v1/transactions`` and ``/api/v1/returns``: sales earn once per order_id, returns take back once.

An API sale shares the ERP's order key space: the same order read later by the ERP sync earns nothing more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import event, func, select

from domain import ledger, rules
from domain.db import Database
from domain.earning import Campaign
from domain.sales import Order
from erp import sync
from tests.fakes import FrozenClock
from tests.fakes_erp import FakeReader
from tests.integration.api_support import MONEY, RFC3339_UTC, member, problem, till

PHONE = "+919812345678"


def sale(order_id: str = "WEB-1", amount: Any = "1499.00", **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "phone": "098123 45678", "amount": amount, **extra}


def test_a_sale_earns_and_answers_the_contract_shape(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, phone=PHONE)
    api = till(app, client, "transactions:write")
    posted = api.post("/api/v1/transactions", sale(store="web", currency="INR"))
    assert posted.status_code == 201, posted.get_json()
    body = posted.get_json()
    assert body["order_id"] == "WEB-1" and body["points_earned"] == 14
    assert body["amount"] == "1499.00" and MONEY.match(body["amount"]) and body["currency"] == "INR"
    assert body["store"] == "web" and RFC3339_UTC.match(body["occurred_at"])
    assert body["member"]["id"] == cid and body["member"]["phone"] == PHONE
    assert body["member"]["points"]["balance"] == 14


def test_a_rules_change_and_a_new_campaign_count_from_the_next_sale(
    app: Flask, client: Any, database: Database, clock: FrozenClock
) -> None:
    """The sale reads the rules in its lock's statement and keeps the parsed rules in memory between
    requests: a change an admin saves counts from the very next sale, as does a campaign started today."""
    member(database, phone=PHONE)
    api = till(app, client, "transactions:write")
    assert api.post("/api/v1/transactions", sale("WEB-1")).get_json()["points_earned"] == 14
    with database.unit_of_work() as s:
        rules.save_rules(s, dataclasses.replace(rules.load_rules(s), points_per_unit=3), "manager@shop.example")
    assert api.post("/api/v1/transactions", sale("WEB-2")).get_json()["points_earned"] == 44
    today = clock.now().astimezone(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
    with database.unit_of_work() as s:
        s.add(Campaign(name="Double days", starts_on=today, ends_on=today, multiplier=Decimal(2)))
    assert api.post("/api/v1/transactions", sale("WEB-3")).get_json()["points_earned"] == 89
    with database.unit_of_work() as s:
        rules.save_rules(s, dataclasses.replace(rules.load_rules(s), points_per_unit=1), "manager@shop.example")
    assert api.post("/api/v1/transactions", sale("WEB-4")).get_json()["points_earned"] == 29


def test_the_same_order_again_earns_nothing_more(app: Flask, client: Any, database: Database) -> None:
    member(database, phone=PHONE)
    api = till(app, client, "transactions:write")
    first = api.post("/api/v1/transactions", sale())
    again = api.post("/api/v1/transactions", sale())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    other = member(database, phone="+919812345699")
    stolen = {"order_id": "WEB-1", "member_id": other, "amount": "1499.00"}
    problem(api.post("/api/v1/transactions", stolen), 409, "order_conflict")
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert ledger.verify(s) == []


def test_a_sale_by_phone_finds_and_locks_the_member_in_one_statement(
    app: Flask, client: Any, database: Database, backend: str
) -> None:
    member(database, phone=PHONE)
    api = till(app, client, "transactions:write")
    engine = app.extensions["loyalty.db"].engine
    customers: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT customers."):
            customers.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        posted = api.post("/api/v1/transactions", sale())
        again = api.post("/api/v1/transactions", sale())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (posted.status_code, again.status_code) == (201, 200)
    assert again.get_json() == posted.get_json()
    assert len(customers) == 2  # one a request: the look-up by phone is the lock, and reads the rules
    assert all("customers.phone =" in s and "FROM settings" in s for s in customers)
    if backend == "postgresql":
        assert all(s.rstrip().endswith("FOR UPDATE OF customers") for s in customers)


def test_a_sale_by_member_id_with_lines_and_a_time(app: Flask, client: Any, database: Database) -> None:
    cid = member(database)
    api = till(app, client, "transactions:write")
    body = {
        "order_id": "POS-7",
        "member_id": cid,
        "amount": 2500,
        "occurred_at": "2026-06-15T12:30:00+05:30",
        "lines": [{"sku": "SKU-1", "category": "shoes", "amount": "2000.00", "qty": 1}, {"amount": "500"}],
    }
    posted = api.post("/api/v1/transactions", body)
    assert posted.status_code == 201, posted.get_json()
    assert posted.get_json()["occurred_at"] == "2026-06-15T07:00:00Z" and posted.get_json()["amount"] == "2500.00"
    problem(api.post("/api/v1/transactions", {**body, "order_id": "POS-8", "currency": "USD"}), 400, "validation_error")
    future = {**body, "order_id": "POS-9", "occurred_at": "2026-06-16T10:00:00Z"}
    problem(api.post("/api/v1/transactions", future), 400, "validation_error", "occurred_at")
    unknown = {"order_id": "POS-10", "phone": "9000000001", "amount": "10"}
    problem(api.post("/api/v1/transactions", unknown), 404, "not_found")


def test_a_return_takes_points_back_in_proportion_once(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, phone=PHONE)
    api = till(app, client, "transactions:write,members:read")
    assert api.post("/api/v1/transactions", sale(amount="1000.00")).get_json()["points_earned"] == 10
    back = api.post("/api/v1/returns", {"return_id": "R-1", "order_id": "WEB-1", "amount": "500.00"})
    assert back.status_code == 201, back.get_json()
    body = back.get_json()
    assert body == {**body, "return_id": "R-1", "order_id": "WEB-1", "amount": "500.00", "points_returned": 5}
    assert body["member"]["points"]["balance"] == 5
    again = api.post("/api/v1/returns", {"return_id": "R-1", "order_id": "WEB-1", "amount": "500.00"})
    assert again.status_code == 200 and again.get_json()["points_returned"] == 5
    assert api.get(f"/api/v1/members/{cid}").get_json()["points"]["balance"] == 5
    problem(api.post("/api/v1/returns", {"return_id": "R-2", "order_id": "NOPE", "amount": "1"}), 404, "not_found")
    with database.unit_of_work() as s:
        assert ledger.verify(s) == []


def erp_tables(order_id: int, amount: Decimal) -> dict[str, list[dict[str, Any]]]:
    t0 = dt.datetime(2026, 6, 15, 9, 0)
    return {
        "Customers": [
            {"CustomerID": 7, "CustomerName": "Asha", "MobileNo": "98123 45678", "Email": None}
            | {"CreatedOn": t0, "ModifiedOn": t0}
        ],
        "Products": [{"ProductID": "P1", "ProductName": "Shoe", "CategoryName": "Shoes", "MRP": 1, "ModifiedOn": t0}],
        "SalesOrders": [
            {"OrderID": order_id, "BillNo": "B1", "CustomerID": 7, "OrderDate": t0, "NetAmount": amount}
            | {"Status": "Completed", "ModifiedOn": t0}
        ],
        "SalesOrderItems": [{"OrderID": order_id, "LineNo": 1, "ProductID": "P1", "Qty": 1, "Amount": amount}],
        "SalesReturns": [{"ReturnID": 1, "OrderID": 999, "ReturnDate": t0, "Amount": Decimal(1), "ModifiedOn": t0}],
    }


def test_an_api_sale_later_synced_from_the_erp_earns_once(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, phone=PHONE)
    api = till(app, client, "transactions:write,members:read")
    assert api.post("/api/v1/transactions", sale(order_id="5001", amount="1000.00")).status_code == 201
    app.extensions["erp.reader_factory"] = lambda: FakeReader(erp_tables(5001, Decimal("1000.00")))
    run = sync.run(app)
    assert run.status == "ok", run.error
    assert api.get(f"/api/v1/members/{cid}").get_json()["points"]["balance"] == 10
    again = api.post("/api/v1/transactions", sale(order_id="5001", amount="1000.00"))
    assert again.status_code == 200 and again.get_json()["points_earned"] == 10
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert ledger.verify(s) == []
