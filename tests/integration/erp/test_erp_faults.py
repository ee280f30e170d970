"""Faults: the ERP vanishing mid-run, and two syncs at once."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from domain.customers import Customer
from domain.ledger import LedgerEntry, verify
from domain.sales import Order
from erp import sync
from erp.models import SyncRun
from runtime import services
from tests.integration.erp.conftest import small_batches
from tests.integration.erp.layout import ErpDb


def totals(app: Flask) -> tuple[int, int, int]:
    with services.database(app).unit_of_work() as session:
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
        points = session.scalar(select(func.sum(Customer.points_balance))) or 0
        entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        assert verify(session) == []
    return int(orders), int(points), int(entries)


def cut_connection_after(erp: ErpDb, entity: str, batches: int) -> sync.Progress:
    """A progress callback that kills the ERP's server-side connections after some committed batches."""
    seen = {"n": 0}

    def progress(name: str, _rows: int) -> None:
        if name != entity:
            return
        seen["n"] += 1
        if seen["n"] == batches:
            erp.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (erp.database,),
            )

    return progress


def test_a_connection_cut_mid_run_keeps_committed_batches_and_resumes_without_double_points(
    erp_app: Flask, erp: ErpDb, tmp_path: Path
) -> None:
    erp_app.config["ERP_MAPPING_FILE"] = small_batches(tmp_path, 3)
    for cid in range(1, 4):
        erp.customer(cid, f"98123 4560{cid}")
    for oid in range(1, 11):
        erp.order(oid, 1 + oid % 3, "1000.00", [("P1", "1000.00")])

    cut = sync.run(erp_app, progress=cut_connection_after(erp, "orders", 2))
    assert cut.status == "failed"
    assert cut.error is not None and cut.error.startswith("ERP unreachable")
    assert totals(erp_app) == (6, 60, 6)  # two batches of three orders committed

    resumed = sync.run(erp_app)
    assert resumed.status == "ok"
    assert resumed.by_entity["orders"] == {
        "read": 4,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 0,
        "suppressed": 0,
    }
    assert totals(erp_app) == (10, 100, 10)
    sync.run(erp_app, full=True)
    assert totals(erp_app) == (10, 100, 10)
    with services.database(erp_app).unit_of_work() as session:
        assert [r.status for r in sync.recent_runs(session)] == ["ok", "ok", "failed"]


def test_an_unreachable_erp_is_a_failed_run_not_an_exception(erp_app: Flask) -> None:
    erp_app.config["ERP_ODBC"] = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=x;Uid=u;Pwd=p;"
    summary = sync.run(erp_app)
    assert summary.status == "failed"
    assert summary.error is not None and summary.error.startswith("ERP unreachable")
    assert erp_app.test_client().get("/health").get_json()["erp_sync"]["status"] == "failed"


def test_two_concurrent_syncs_one_runs_the_other_is_skipped_and_recorded(
    erp_app: Flask, erp: ErpDb, tmp_path: Path
) -> None:
    erp_app.config["ERP_MAPPING_FILE"] = small_batches(tmp_path, 1)
    erp.customer(1, "98123 45601")
    erp.customer(2, "98123 45602")
    inside, release = threading.Event(), threading.Event()
    results: list[sync.SyncSummary] = []

    def hold(_entity: str, _rows: int) -> None:
        inside.set()
        release.wait(30)

    first = threading.Thread(target=lambda: results.append(sync.run(erp_app, progress=hold)))
    first.start()
    try:
        assert inside.wait(30)
        second = sync.run(erp_app, trigger="cli")
    finally:
        release.set()
        first.join(30)
    assert second.status == "skipped"
    assert [r.status for r in results] == ["ok"]
    assert results[0].created == 2
    with services.database(erp_app).unit_of_work() as session:
        statuses = sorted(r.status for r in session.scalars(select(SyncRun)))
    assert statuses == ["ok", "skipped"]
    assert sync.run(erp_app).status == "ok"  # the lock was released
