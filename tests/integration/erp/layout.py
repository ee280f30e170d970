"""The ERP's default layout in PostgreSQL, and a small writer for tests to fill it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg2

DEFAULT_LAYOUT = """
CREATE TABLE "Customers" (
    "CustomerID" integer PRIMARY KEY, "CustomerName" varchar(100), "MobileNo" varchar(30),
    "Email" varchar(100), "CreatedOn" timestamp, "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "Products" (
    "ProductID" varchar(20) PRIMARY KEY, "ProductName" varchar(100), "CategoryName" varchar(60),
    "MRP" numeric(12, 2), "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "SalesOrders" (
    "OrderID" integer PRIMARY KEY, "BillNo" varchar(30), "CustomerID" integer, "OrderDate" timestamp,
    "NetAmount" numeric(12, 2), "Status" varchar(20), "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "SalesOrderItems" (
    "OrderID" integer, "LineNo" integer, "ProductID" varchar(20), "Qty" numeric(10, 2), "Amount" numeric(12, 2),
    PRIMARY KEY ("OrderID", "LineNo"));
CREATE TABLE "SalesReturns" (
    "ReturnID" integer PRIMARY KEY, "OrderID" integer, "ReturnDate" timestamp, "Amount" numeric(12, 2),
    "ModifiedOn" timestamp NOT NULL);
CREATE INDEX ON "Customers" ("ModifiedOn", "CustomerID");
CREATE INDEX ON "Products" ("ModifiedOn", "ProductID");
CREATE INDEX ON "SalesOrders" ("ModifiedOn", "OrderID");
CREATE INDEX ON "SalesReturns" ("ModifiedOn", "ReturnID");
"""

T0 = dt.datetime(2026, 6, 1, 9, 0)


def odbc_string(database: str) -> str:
    return (
        "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;"
        f"Database={database};Uid=postgres;Pwd=postgres;CommLog=0;Debug=0;"
    )


class ErpDb:
    """Writes rows the way the ERP would, each with a ModifiedOn that moves forward."""

    def __init__(self, dsn: str, database: str) -> None:
        self.database = database
        self.odbc = odbc_string(database)
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.tick = T0

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def reset(self, layout: str = DEFAULT_LAYOUT) -> None:
        self.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        self.execute(layout)
        self.tick = T0

    def next_time(self) -> dt.datetime:
        self.tick += dt.timedelta(minutes=1)
        return self.tick

    def customer(self, cid: int, phone: str | None, name: str = "Asha", modified: dt.datetime | None = None) -> None:
        self.execute(
            'INSERT INTO "Customers" VALUES (%s, %s, %s, %s, %s, %s)',
            (cid, name, phone, f"c{cid}@example.com", T0, modified or self.next_time()),
        )

    def product(self, pid: str, category: str | None, mrp: str = "100") -> None:
        self.execute(
            'INSERT INTO "Products" VALUES (%s, %s, %s, %s, %s)',
            (pid, f"Product {pid}", category, Decimal(mrp), self.next_time()),
        )

    def order(
        self,
        oid: int,
        customer: int,
        amount: str,
        lines: list[tuple[str, str]] | None = None,
        status: str = "Completed",
        when: dt.datetime = T0,
        modified: dt.datetime | None = None,
    ) -> None:
        self.execute(
            'INSERT INTO "SalesOrders" VALUES (%s, %s, %s, %s, %s, %s, %s)',
            (oid, f"B{oid}", customer, when, Decimal(amount), status, modified or self.next_time()),
        )
        for n, (pid, line_amount) in enumerate(lines or [], start=1):
            self.execute(
                'INSERT INTO "SalesOrderItems" VALUES (%s, %s, %s, %s, %s)', (oid, n, pid, 1, Decimal(line_amount))
            )

    def ret(self, rid: int, oid: int, amount: str) -> None:
        self.execute(
            'INSERT INTO "SalesReturns" VALUES (%s, %s, %s, %s, %s)',
            (rid, oid, T0 + dt.timedelta(days=1), Decimal(amount), self.next_time()),
        )

    def update(self, table: str, key_column: str, key: Any, **values: Any) -> None:
        """Change a row and move its ModifiedOn, as the ERP does on every edit."""
        sets = ", ".join(f'"{col}" = %s' for col in values)
        self.execute(
            f'UPDATE "{table}" SET {sets}, "ModifiedOn" = %s WHERE "{key_column}" = %s',
            (*values.values(), self.next_time(), key),
        )

    def close(self) -> None:
        self.conn.close()
