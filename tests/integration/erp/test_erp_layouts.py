"""Another ERP layout needs only another mapping file; `erp check` names what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from domain.customers import Customer
from domain.sales import Order
from erp import sync
from erp.models import QuarantinedRow
from runtime import services
from tests.integration.erp.layout import ErpDb

HERE = Path(__file__).resolve().parent

RENAMED_LAYOUT = """
CREATE TABLE "Party" ("PartyCode" varchar(10) PRIMARY KEY, "PartyName" varchar(80), "Phone" varchar(20),
    "LastEdit" timestamp NOT NULL);
CREATE TABLE "Items" ("ItemCode" varchar(10) PRIMARY KEY, "ItemName" varchar(80), "Grp" varchar(30),
    "LastEdit" timestamp NOT NULL);
CREATE TABLE "Bills" ("BillID" varchar(10) PRIMARY KEY, "BillNo" varchar(20), "Party" varchar(10),
    "BillDate" varchar(30), "BillAmt" varchar(20), "Flag" varchar(4), "LastEdit" timestamp NOT NULL);
CREATE TABLE "BillItems" ("BillID" varchar(10), "SrNo" integer, "ItemCode" varchar(10), "LineAmt" numeric(12, 2));
CREATE TABLE "ReturnNotes" ("RetID" varchar(10) PRIMARY KEY, "BillID" varchar(10), "RetDate" varchar(30),
    "RetAmt" numeric(12, 2), "LastEdit" timestamp NOT NULL);
INSERT INTO "Party" VALUES ('p1', ' Kiran ', '+91 98123 45678', '2026-06-01 10:00'),
                           ('p2', 'Dev', '98123 45679', '2026-06-01 10:00');
INSERT INTO "Items" VALUES ('I1', 'Saree', 'Ethnic', '2026-06-01 10:00');
INSERT INTO "Bills" VALUES ('B1', '0001', 'P1', '02/06/2026', '1,200.00', 'OK', '2026-06-02 10:00'),
                           ('B2', '0002', 'P2', 'yesterday', '300.00', 'OK', '2026-06-02 10:00'),
                           ('B3', '0003', 'P2', '2026-06-03', '800.00', 'CN', '2026-06-02 10:00');
INSERT INTO "BillItems" VALUES ('B1', 1, 'I1', 1200.00);
INSERT INTO "ReturnNotes" VALUES ('R1', 'B1', '2026-06-05', 600.00, '2026-06-05 10:00');
"""


def test_a_renamed_layout_syncs_with_only_a_mapping_file(erp_app: Flask, erp: ErpDb) -> None:
    erp.reset(RENAMED_LAYOUT)
    erp_app.config["ERP_MAPPING_FILE"] = str(HERE / "renamed_mapping.toml")
    summary = sync.run(erp_app)
    assert summary.status == "ok", summary.error
    assert summary.by_entity["customers"]["created"] == 2
    assert summary.by_entity["orders"]["created"] == 2
    assert summary.by_entity["returns"]["created"] == 1
    with services.database(erp_app).unit_of_work() as session:
        kiran = session.scalar(select(Customer).where(Customer.erp_customer_id == "P1"))
        assert kiran is not None and (kiran.name, kiran.phone) == ("Kiran", "+919812345678")
        assert kiran.points_balance == 6  # 12 earned, half returned
        bill = session.scalar(select(Order).where(Order.erp_order_id == "B1"))
        assert bill is not None and bill.order_date.isoformat() == "2026-06-02T00:00:00+00:00"
        assert [ln.category for ln in bill.lines] == ["ethnic"]
        cancelled = session.scalar(select(Order).where(Order.erp_order_id == "B3"))
        assert cancelled is not None and cancelled.status == "cancelled"
        bad = session.scalar(select(QuarantinedRow).where(QuarantinedRow.source_key == "B2"))
        assert bad is not None and bad.reason == "BillDate: 'yesterday' is not a date"
        assert bad.raw["BillAmt"] == "300.00"


def test_erp_check_lists_the_mapping_and_passes_on_the_default_layout(erp_app: Flask, erp: ErpDb) -> None:
    result = erp_app.test_cli_runner().invoke(args=["erp", "check"])
    assert result.exit_code == 0, result.output
    assert "orders       SalesOrders              ok" in result.output
    assert "orders.net_amount <- SalesOrders.NetAmount [decimal] required" in result.output
    assert "every mapped table and column exists" in result.output


def test_erp_check_names_a_missing_column_and_a_missing_table(erp_app: Flask, erp: ErpDb) -> None:
    erp.execute('ALTER TABLE "SalesOrders" RENAME COLUMN "NetAmount" TO "NetAmt"')
    erp.execute('DROP TABLE "SalesReturns"')
    result = erp_app.test_cli_runner().invoke(args=["erp", "check"])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last == (
        "Error: mapping column missing: SalesOrders.NetAmount (entity orders); table SalesReturns (entity returns)"
    )
    sync_result = erp_app.test_cli_runner().invoke(args=["erp", "sync"])
    assert sync_result.exit_code == 1
    assert "mapping column missing: SalesOrders.NetAmount" in sync_result.output
    assert "Traceback" not in sync_result.output


def test_erp_unreachable_is_one_line_and_exit_1(erp_app: Flask) -> None:
    erp_app.config["ERP_ODBC"] = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=x;Uid=u;Pwd=p;"
    for args in (["erp", "check"], ["erp", "sync"]):
        result = erp_app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        assert result.output.strip().splitlines()[-1].startswith("Error: ERP unreachable")


def test_erp_sync_prints_a_summary_and_the_quarantine(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "9812345678")
    erp.customer(2, "not a phone")
    erp.order(10, 1, "1000.00")
    result = erp_app.test_cli_runner().invoke(args=["erp", "sync", "--entity", "customers", "--entity", "orders"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("read 3, created 2, updated 0, unchanged 0, quarantined 1 in ")
    assert "  customers: read 2, created 1, updated 0, unchanged 0, quarantined 1" in lines
    assert "1 row(s) in quarantine:" in lines
    assert any(line.startswith("  customers 2: MobileNo:") for line in lines)
    again = erp_app.test_cli_runner().invoke(args=["erp", "sync", "--full"])
    assert again.exit_code == 0
    assert "created 0, updated 0" in again.output.splitlines()[0]


def test_erp_sync_on_a_terminal_shows_a_progress_bar(
    erp_app: Flask, erp: ErpDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    erp.customer(1, "9812345678")
    erp.order(10, 1, "1000.00")
    monkeypatch.setattr("erp.cli._on_terminal", lambda: True)
    result = erp_app.test_cli_runner().invoke(args=["erp", "sync"])
    assert result.exit_code == 0, result.output
    assert "ERP sync" in result.output
    assert "read 2, created 2" in result.output
