"""The SQL sent to the ERP is the dialect SQL Server and PostgreSQL share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from erp import queries
from erp.mapping import load_mapping
from erp.reader import ErpNotConfigured, ErpUnreachable, MappingMismatch, classify, connection_string

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "erp" / "mapping.toml")


def test_batches_are_keyset_pages_with_offset_fetch_and_quoted_names() -> None:
    mark = (dt.datetime(2026, 6, 1), 42)
    q = queries.next_batch(MAPPING.entity("orders"), mark, 500)
    assert q.sql == (
        'SELECT "OrderID", "ModifiedOn", "BillNo", "CustomerID", "OrderDate", "NetAmount", "Status" '
        'FROM "SalesOrders" WHERE ("ModifiedOn" > ? OR ("ModifiedOn" = ? AND "OrderID" > ?)) '
        'ORDER BY "ModifiedOn", "OrderID" OFFSET 0 ROWS FETCH NEXT ? ROWS ONLY'
    )
    assert q.params == (mark[0], mark[0], 42, 500)
    first = queries.next_batch(MAPPING.entity("orders"), None, 500)
    assert ' WHERE "ModifiedOn" IS NOT NULL ORDER BY' in first.sql and first.params == (500,)
    assert "LIMIT" not in q.sql.upper()


def test_lines_join_products_for_the_category() -> None:
    q = queries.lines_of(MAPPING.entity("order_lines"), MAPPING.entity("products"), [1, 2])
    assert 'LEFT JOIN "Products" p ON p."ProductID" = l."ProductID"' in q.sql
    assert f'p."CategoryName" AS {queries.CATEGORY_ALIAS}' in q.sql
    assert q.sql.endswith('WHERE l."OrderID" IN (?, ?) ORDER BY l."OrderID", l."LineNo"')
    assert q.params == (1, 2)


def test_quotes_inside_names_are_doubled() -> None:
    assert queries.quote('a"b') == '"a""b"'


def test_connection_string_from_parts() -> None:
    sql_server = {
        "ERP_DRIVER": "ODBC Driver 17 for SQL Server",
        "ERP_HOST": "erp.local",
        "ERP_PORT": "1433",
        "ERP_DATABASE": "LogicERP",
        "ERP_USERNAME": "loyalty",
        "ERP_PASSWORD": "s;cret",
    }
    assert connection_string(sql_server) == (
        "Driver={ODBC Driver 17 for SQL Server};Server=erp.local,1433;Database=LogicERP;Uid=loyalty;Pwd={s;cret};"
    )
    freetds = {**sql_server, "ERP_DRIVER": "FreeTDS"}
    assert "Server=erp.local;Database=LogicERP;Port=1433;" in connection_string(freetds)
    assert connection_string({"ERP_ODBC": "DSN=erp", **sql_server}) == "DSN=erp"
    with pytest.raises(ErpNotConfigured, match="ERP not configured"):
        connection_string({})


class FakeDriverError(Exception):
    pass


def test_driver_errors_are_named_for_the_operator() -> None:
    probe = queries.probe("SalesOrders")
    missing = classify(FakeDriverError("42S22", "[Microsoft][ODBC] Invalid column name 'NetAmt'."), probe)
    assert isinstance(missing, MappingMismatch) and str(missing).startswith("mapping column missing in SalesOrders")
    gone = classify(FakeDriverError("08S01", "[Microsoft] Communication link failure"), probe)
    assert isinstance(gone, ErpUnreachable) and str(gone) == "ERP unreachable: Communication link failure"
    table = classify(FakeDriverError("42P01", 'ERROR: relation "X" does not exist'), probe)
    assert str(table).startswith("mapping table missing: SalesOrders")
