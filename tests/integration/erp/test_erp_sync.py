"""The sync over a real ODBC driver: what it creates, and that nothing happens twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from domain import referrals
from domain.customers import Customer
from domain.ledger import LedgerEntry, verify
from domain.notifications import Notification
from domain.sales import Order, Product
from erp import sync
from erp.models import QuarantinedRow, SyncRun, SyncWatermark
from runtime import services
from tests.integration.erp.conftest import small_batches
from tests.integration.erp.layout import T0, ErpDb


def customer(app: Flask, erp_id: str) -> Customer:
    with services.database(app).unit_of_work() as session:
        found = session.scalar(select(Customer).where(Customer.erp_customer_id == erp_id))
        assert found is not None
        return found


def balance(app: Flask, erp_id: str) -> int:
    return customer(app, erp_id).points_balance


def count(app: Flask, model: type) -> int:
    with services.database(app).unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def no_drift(app: Flask) -> None:
    with services.database(app).unit_of_work() as session:
        assert verify(session) == []


def seed_shop(erp: ErpDb) -> None:
    erp.customer(1, "98123 45678", "Asha")
    erp.customer(2, "+91-98123-45679", "Ravi")
    erp.product("P1", "Shoes")
    erp.product("P2", None)
    erp.order(10, 1, "1000.00", [("P1", "600.00"), ("P2", "400.00")])
    erp.order(11, 2, "250.00", [("P2", "250.00")])


def test_first_sync_creates_everything_and_a_full_rerun_changes_nothing(erp_app: Flask, erp: ErpDb) -> None:
    seed_shop(erp)
    first = sync.run(erp_app, trigger="cli")
    assert first.status == "ok", first.error
    assert (first.read, first.created, first.updated, first.quarantined) == (6, 6, 0, 0)
    asha = customer(erp_app, "1")
    assert (asha.phone, asha.name, asha.source, asha.points_balance) == ("+919812345678", "Asha", "erp", 10)
    with services.database(erp_app).unit_of_work() as session:
        order = session.scalar(select(Order).where(Order.erp_order_id == "10"))
        assert order is not None
        assert [(ln.line_no, ln.erp_product_id, ln.category, ln.amount) for ln in order.lines] == [
            (1, "P1", "Shoes", Decimal("600.00")),
            (2, "P2", None, Decimal("400.00")),
        ]
        shoes = session.scalar(select(Product).where(Product.erp_product_id == "P1"))
        assert shoes is not None and shoes.category == "Shoes"
        earned = session.scalars(select(Notification).where(Notification.kind == "points_earned")).all()
        assert len(earned) == 2

    again = sync.run(erp_app, full=True, trigger="cli")
    assert (again.read, again.created, again.updated, again.unchanged) == (6, 0, 0, 6)
    assert balance(erp_app, "1") == 10
    assert count(erp_app, LedgerEntry) == 2
    assert count(erp_app, Notification) == 2
    incremental = sync.run(erp_app)
    assert incremental.read == 0
    no_drift(erp_app)


def test_incremental_by_watermark_keeps_rows_that_share_a_timestamp(erp_app: Flask, erp: ErpDb, tmp_path: Path) -> None:
    erp_app.config["ERP_MAPPING_FILE"] = small_batches(tmp_path, 2)
    same = T0.replace(hour=12)
    for cid in range(1, 6):
        erp.customer(cid, f"98123 4560{cid}", modified=same)
    batches: list[int] = []
    first = sync.run(erp_app, entities=["customers"], progress=lambda _e, n: batches.append(n))
    assert first.created == 5
    assert batches == [2, 2, 1]
    with services.database(erp_app).unit_of_work() as session:
        mark = session.get(SyncWatermark, "customers")
        assert mark is not None and mark.last_key == "i:5"

    erp.customer(6, "98123 45606", modified=same)  # same timestamp, later key
    erp.customer(7, "98123 45607", modified=same.replace(minute=1))  # later timestamp
    second = sync.run(erp_app, entities=["customers"])
    assert (second.read, second.created) == (2, 2)
    erp.tick = same.replace(minute=2)
    erp.update("Customers", "CustomerID", 3, CustomerName="Meera")
    third = sync.run(erp_app, entities=["customers"])
    assert (third.read, third.updated) == (1, 1)
    assert customer(erp_app, "3").name == "Meera"


def test_an_order_synced_twice_earns_once_and_corrections_post_the_difference(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678")
    erp.order(10, 1, "1000.00")
    assert sync.run(erp_app).created == 2
    assert balance(erp_app, "1") == 10

    erp.update("SalesOrders", "OrderID", 10, Status="Completed")  # touched, nothing changed
    touched = sync.run(erp_app)
    assert (touched.read, touched.unchanged) == (1, 1)
    assert balance(erp_app, "1") == 10

    erp.update("SalesOrders", "OrderID", 10, NetAmount=Decimal("1500.00"))
    assert sync.run(erp_app).updated == 1
    assert balance(erp_app, "1") == 15
    erp.update("SalesOrders", "OrderID", 10, NetAmount=Decimal("1200.00"))
    sync.run(erp_app)
    assert balance(erp_app, "1") == 12

    erp.update("SalesOrders", "OrderID", 10, Status="Cancelled")
    sync.run(erp_app)
    assert balance(erp_app, "1") == 0
    sync.run(erp_app, full=True)
    assert balance(erp_app, "1") == 0
    assert count(erp_app, Notification) == 1  # one points_earned per order
    no_drift(erp_app)


def test_full_and_partial_returns_take_points_back_once(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678")
    erp.customer(2, "9812345679")
    erp.order(10, 1, "2000.00")
    erp.order(11, 2, "800.00")
    sync.run(erp_app)
    assert (balance(erp_app, "1"), balance(erp_app, "2")) == (20, 8)

    erp.ret(100, 10, "500.00")  # partial
    erp.ret(101, 11, "800.00")  # full
    summary = sync.run(erp_app)
    assert summary.by_entity["returns"]["created"] == 2
    assert (balance(erp_app, "1"), balance(erp_app, "2")) == (15, 0)

    erp.ret(102, 10, "500.00")  # a second partial return of the same bill
    sync.run(erp_app)
    sync.run(erp_app, full=True)
    assert balance(erp_app, "1") == 10
    no_drift(erp_app)


def test_first_qualifying_purchase_pays_both_referral_bonuses(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678", "Referrer")
    erp.customer(2, "9812345679", "Friend")
    sync.run(erp_app, entities=["customers"])
    with services.database(erp_app).unit_of_work() as session:
        referrer = session.scalar(select(Customer).where(Customer.erp_customer_id == "1"))
        friend = session.scalar(select(Customer).where(Customer.erp_customer_id == "2"))
        assert referrer is not None and friend is not None
        referrals.attribute(session, friend, referrer, services.now(erp_app), is_new=True)

    erp.order(10, 2, "600.00")
    erp.order(11, 2, "900.00")
    sync.run(erp_app)
    sync.run(erp_app, full=True)
    assert balance(erp_app, "1") == 100  # referrer bonus, once
    assert balance(erp_app, "2") == 50 + 6 + 9
    no_drift(erp_app)


def test_bad_rows_are_quarantined_and_picked_up_again_once_fixed(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "12345", "No Phone")  # invalid phone
    erp.customer(2, "9812345679")
    erp.order(10, 1, "1000.00")  # its customer is quarantined
    erp.order(11, 2, "-50.00")  # negative amount
    erp.order(12, 99, "100.00")  # unknown customer
    erp.order(13, 2, "300.00", status="Parked")  # a status the mapping does not know
    erp.order(14, 2, "500.00")
    first = sync.run(erp_app)
    assert first.status == "ok"
    assert (first.created, first.quarantined) == (2, 5)
    with services.database(erp_app).unit_of_work() as session:
        reasons = {(q.entity, q.source_key): q.reason for q in session.scalars(select(QuarantinedRow))}
        raw = session.scalar(select(QuarantinedRow.raw).where(QuarantinedRow.source_key == "11"))
    assert "MobileNo" in reasons[("customers", "1")]
    assert reasons[("orders", "10")] == "unknown customer 1"
    assert "negative" in reasons[("orders", "11")]
    assert reasons[("orders", "12")] == "unknown customer 99"
    assert "Parked" in reasons[("orders", "13")]
    assert raw is not None and raw["NetAmount"] == "-50.00" and raw["BillNo"] == "B11"

    erp.update("Customers", "CustomerID", 1, MobileNo="09812345678")
    erp.update("SalesOrders", "OrderID", 11, NetAmount=Decimal("50.00"))
    second = sync.run(erp_app)
    assert second.created == 3  # the customer, its order (read again by key), the fixed order
    assert balance(erp_app, "1") == 10
    with services.database(erp_app).unit_of_work() as session:
        still_open = sorted(
            q.source_key for q in session.scalars(select(QuarantinedRow).where(QuarantinedRow.resolved_at.is_(None)))
        )
    assert still_open == ["12", "13"]
    no_drift(erp_app)


def test_each_run_is_recorded(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678")
    sync.run(erp_app, trigger="cli")
    with services.database(erp_app).unit_of_work() as session:
        runs = sync.recent_runs(session)
        assert [r.status for r in runs] == ["ok"]
        assert runs[0].counts["created"] == 1 and runs[0].finished_at is not None
        assert runs[0].trigger == "cli"
    body = erp_app.test_client().get("/health").get_json()
    assert body["erp_sync"]["status"] == "ok"
    assert count(erp_app, SyncRun) == 1


def test_changed_lines_reprice_the_order_by_the_difference(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678")
    erp.product("P1", "Shoes")
    erp.order(10, 1, "1000.00", [("P1", "600.00"), ("P2", "400.00")])
    sync.run(erp_app)
    assert balance(erp_app, "1") == 10
    erp.execute('UPDATE "SalesOrderItems" SET "Amount" = 900 WHERE "OrderID" = 10 AND "LineNo" = 1')
    erp.update("SalesOrders", "OrderID", 10, NetAmount=Decimal("1300.00"))
    summary = sync.run(erp_app)
    assert (summary.updated, summary.quarantined) == (1, 0)
    assert balance(erp_app, "1") == 13
    with services.database(erp_app).unit_of_work() as session:
        order = session.scalar(select(Order).where(Order.erp_order_id == "10"))
        assert order is not None and [ln.amount for ln in order.lines] == [Decimal("900.00"), Decimal("400.00")]
    no_drift(erp_app)
