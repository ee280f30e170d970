"""The sync against the fake reader, on SQLite: batching, resuming, the lease, the job."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from domain.customers import Customer
from domain.sales import Order
from erp import jobs, lock, sync
from erp.models import SyncLease, SyncRun
from runtime import services
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.fakes_erp import FakeReader

T0 = dt.datetime(2026, 6, 1, 9, 0)
ROOT = Path(__file__).resolve().parents[2]


def erp_tables(orders: int = 5) -> dict[str, list[dict[str, Any]]]:
    customers = [
        {
            "CustomerID": c,
            "CustomerName": f"C{c}",
            "MobileNo": f"98123 4560{c}",
            "Email": None,
            "CreatedOn": T0,
            "ModifiedOn": T0,
        }
        for c in (1, 2)
    ]
    sales = [
        {
            "OrderID": o,
            "BillNo": f"B{o}",
            "CustomerID": 1 + o % 2,
            "OrderDate": T0,
            "NetAmount": Decimal("1000.00"),
            "Status": "Completed",
            "ModifiedOn": T0 + dt.timedelta(minutes=o // 2),
        }
        for o in range(1, orders + 1)
    ]
    return {
        "Customers": customers,
        "Products": [{"ProductID": "P1", "ProductName": "Shoe", "CategoryName": "Shoes", "MRP": 1, "ModifiedOn": T0}],
        "SalesOrders": sales,
        "SalesOrderItems": [
            {"OrderID": o, "LineNo": 1, "ProductID": "P1", "Qty": 1, "Amount": Decimal("1000.00")}
            for o in range(1, orders + 1)
        ],
        "SalesReturns": [{"ReturnID": 1, "OrderID": 1, "ReturnDate": T0, "Amount": Decimal("1"), "ModifiedOn": T0}],
    }


@pytest.fixture
def fake_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "unit.db"
    shutil.copyfile(sqlite_template, path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text((ROOT / "erp" / "mapping.toml").read_text().replace("batch_size = 1000", "batch_size = 2"))
    app = __import__("loyalty").create_app(app_config(f"sqlite:///{path}", ERP_MAPPING_FILE=str(mapping)))
    app.extensions["loyalty.clock"] = FrozenClock()
    yield app
    services.database(app).dispose()


def use(app: Flask, reader: FakeReader) -> FakeReader:
    app.extensions["erp.reader_factory"] = lambda: reader
    return reader


def orders_and_points(app: Flask) -> tuple[int, int]:
    with services.database(app).unit_of_work() as session:
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
        points = session.scalar(select(func.sum(Customer.points_balance))) or 0
    return int(orders), int(points)


def test_reads_in_batches_and_resumes_after_a_lost_connection(fake_app: Flask) -> None:
    tables = erp_tables(orders=7)
    # 1 customers batch (2 rows, full) + 1 empty, 1 products, then orders: batch + lines per batch.
    reader = use(fake_app, FakeReader(tables, fail_after=8))
    cut = sync.run(fake_app)
    assert cut.status == "failed" and cut.error == "ERP unreachable: connection lost (fake)"
    assert reader.closed
    assert orders_and_points(fake_app) == (4, 40)  # two committed batches of two orders
    use(fake_app, FakeReader(tables))
    resumed = sync.run(fake_app)
    assert resumed.status == "ok"
    assert resumed.by_entity["orders"]["read"] == 3
    assert orders_and_points(fake_app) == (7, 70 - 1)  # a 1-rupee return keeps floor(10 x 999/1000) = 9 of 10
    with services.database(fake_app).unit_of_work() as session:
        assert [r.status for r in sync.recent_runs(session)] == ["ok", "failed"]


def test_a_live_lease_makes_another_run_stand_aside(fake_app: Flask) -> None:
    use(fake_app, FakeReader(erp_tables()))
    db, now = services.database(fake_app), services.now(fake_app)
    with lock.exclusive(db, "other-host:1", lambda: now) as held:
        assert held is not None
        skipped = sync.run(fake_app)
    assert skipped.status == "skipped"
    assert sync.run(fake_app).status == "ok"  # released
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SyncLease)) == 0
        assert sorted(r.status for r in session.scalars(select(SyncRun))) == ["ok", "skipped"]


def test_an_expired_lease_is_taken_over(fake_app: Flask) -> None:
    use(fake_app, FakeReader(erp_tables()))
    db = services.database(fake_app)
    now = services.now(fake_app)
    with db.unit_of_work() as session:
        session.add(SyncLease(name=lock.LEASE_NAME, holder="crashed:1", expires_at=now - dt.timedelta(seconds=1)))
    assert sync.run(fake_app).status == "ok"


def test_the_job_does_nothing_without_an_erp_and_runs_with_one(fake_app: Flask) -> None:
    assert jobs.sync_job(fake_app) is None
    use(fake_app, FakeReader(erp_tables()))
    summary = jobs.sync_job(fake_app)
    assert summary is not None and summary.status == "ok" and summary.created > 0
    assert jobs.interval_minutes(fake_app) == 15


def test_pending_counts_feed_the_progress_bar(fake_app: Flask) -> None:
    use(fake_app, FakeReader(erp_tables(orders=5)))
    assert sync.pending_counts(fake_app, ["customers", "orders"]) == {"customers": 2, "orders": 5}
    seen: list[tuple[str, int]] = []
    sync.run(fake_app, progress=lambda e, n: seen.append((e, n)))
    assert [n for e, n in seen if e == "orders"] == [2, 2, 1]
    assert sync.pending_counts(fake_app, ["orders"]) == {"orders": 0}
    assert sync.pending_counts(fake_app, ["orders"], full=True) == {"orders": 5}


def test_unknown_entities_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity invoices"):
        sync.chosen_entities(["invoices"])
    assert sync.chosen_entities(["returns", "customers"]) == ["customers", "returns"]
