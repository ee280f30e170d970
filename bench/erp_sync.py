"""ERP sync benchmark: orders through the real ODBC path, beside a plain copy of the same rows.

For each size it builds an ERP database in the default layout on the local
PostgreSQL server (``--orders`` orders with two lines each, generated with
``generate_series``) and a migrated loyalty database, then runs two child
processes, one after the other:

- baseline: reads the orders and their lines over ODBC with the same queries and
  batch size as the sync, and inserts them into a plain table (no domain logic);
- sync: ``erp.sync.run`` for the orders (customers and products are synced first,
  untimed), through the domain: points, ledger, notifications, tiers.

It reports seconds, the ratio sync / baseline (target: at most 3) and each
child's peak RSS (target: under 300 MB and flat across sizes).

    .venv/bin/python bench/erp_sync.py                           # 100,000 then 1,000,000 orders
    .venv/bin/python bench/erp_sync.py --orders 20000 --small 5000
    .venv/bin/python bench/erp_sync.py --write-docs              # also update docs/PERFORMANCE.md

The scratch databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import postgres  # noqa: E402
from bench.harness.report import table, write_table  # noqa: E402
from domain.db import make_engine  # noqa: E402

HEADING = "## ERP sync (`bench/erp_sync.py`)"
ODBC = (
    "Driver={{PostgreSQL Unicode}};Server={host};Port={port};Database={db};Uid={user};Pwd={password};CommLog=0;Debug=0;"
)

LAYOUT = """
CREATE TABLE "Customers" ("CustomerID" integer PRIMARY KEY, "CustomerName" varchar(100), "MobileNo" varchar(30),
    "Email" varchar(100), "CreatedOn" timestamp, "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "Products" ("ProductID" varchar(20) PRIMARY KEY, "ProductName" varchar(100),
    "CategoryName" varchar(60), "MRP" numeric(12, 2), "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "SalesOrders" ("OrderID" integer PRIMARY KEY, "BillNo" varchar(30), "CustomerID" integer,
    "OrderDate" timestamp, "NetAmount" numeric(12, 2), "Status" varchar(20), "ModifiedOn" timestamp NOT NULL);
CREATE TABLE "SalesOrderItems" ("OrderID" integer, "LineNo" integer, "ProductID" varchar(20),
    "Qty" numeric(10, 2), "Amount" numeric(12, 2));
CREATE TABLE "SalesReturns" ("ReturnID" integer PRIMARY KEY, "OrderID" integer, "ReturnDate" timestamp,
    "Amount" numeric(12, 2), "ModifiedOn" timestamp NOT NULL);
"""

FILL = """
INSERT INTO "Customers"
  SELECT i, 'Customer ' || i, '9' || lpad(i::text, 9, '0'), 'c' || i || '@example.com',
         timestamp '2026-01-01', timestamp '2026-01-01' + i * interval '1 second'
  FROM generate_series(1, :customers) i;
INSERT INTO "Products"
  SELECT 'P' || i, 'Product ' || i, (ARRAY['Shoes', 'Ethnic', 'Home', 'Toys'])[1 + i % 4], 100 + i,
         timestamp '2026-01-01'
  FROM generate_series(1, 1000) i;
INSERT INTO "SalesOrders"
  SELECT i, 'B' || i, 1 + i % :customers, timestamp '2026-09-01' + i * interval '2 seconds', 200 + i % 5000,
         'Completed', timestamp '2026-10-01' + (i / 3) * interval '1 second'
  FROM generate_series(1, :orders) i;
INSERT INTO "SalesOrderItems"
  SELECT o, l, 'P' || (1 + (o * 7 + l) % 1000), 1, CASE WHEN l = 1 THEN 150 ELSE 50 + o % 5000 END
  FROM generate_series(1, :orders) o, generate_series(1, 2) l;
ALTER TABLE "SalesOrderItems" ADD PRIMARY KEY ("OrderID", "LineNo");
CREATE INDEX ON "Customers" ("ModifiedOn", "CustomerID");
CREATE INDEX ON "Products" ("ModifiedOn", "ProductID");
CREATE INDEX ON "SalesOrders" ("ModifiedOn", "OrderID");
CREATE INDEX ON "SalesReturns" ("ModifiedOn", "ReturnID");
ANALYZE;
"""


def odbc_for(database: str) -> str:
    url = make_url(postgres.SERVER_URL)
    return ODBC.format(
        host=url.host or "127.0.0.1", port=url.port or 5432, db=database, user=url.username, password=url.password
    )


def build_erp(url: str, orders: int, customers: int) -> float:
    started = time.perf_counter()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(LAYOUT)
        for statement in FILL.split(";"):
            if statement.strip():
                conn.execute(text(statement), {"orders": orders, "customers": customers})
    engine.dispose()
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children ---------------------------------------------------------------------------------


def child_baseline(erp_db: str, loyalty_url: str) -> dict[str, Any]:
    """The same ODBC reads as the sync, each batch inserted as-is into a plain table."""
    from erp import queries
    from erp.mapping import load_mapping
    from erp.reader import OdbcReader

    mapping = load_mapping(ROOT / "erp" / "mapping.toml")
    orders, lines_map, products = (mapping.entity(n) for n in ("orders", "order_lines", "products"))
    engine = make_engine(loyalty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE bench_orders (order_id text, bill_no text, customer_id text, order_date timestamp,"
            " net_amount numeric, status text, modified timestamp)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE bench_lines (order_id text, line_no int, product_id text, qty numeric, amount numeric,"
            " category text)"
        )
    reader = OdbcReader(odbc_for(erp_db))
    started, rows_read, after = time.perf_counter(), 0, None
    while True:
        rows = reader.fetch(queries.next_batch(orders, after, mapping.batch_size))
        if not rows:
            break
        lines = reader.fetch(queries.lines_of(lines_map, products, [r["OrderID"] for r in rows]))
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_orders VALUES (:o, :b, :c, :d, :n, :s, :m)"),
                [
                    {
                        "o": str(r["OrderID"]),
                        "b": r["BillNo"],
                        "c": str(r["CustomerID"]),
                        "d": r["OrderDate"],
                        "n": r["NetAmount"],
                        "s": r["Status"],
                        "m": r["ModifiedOn"],
                    }
                    for r in rows
                ],
            )
            conn.execute(
                text("INSERT INTO bench_lines VALUES (:o, :l, :p, :q, :a, :c)"),
                [
                    {
                        "o": str(ln["OrderID"]),
                        "l": ln["LineNo"],
                        "p": ln["ProductID"],
                        "q": ln["Qty"],
                        "a": ln["Amount"],
                        "c": ln[queries.CATEGORY_ALIAS],
                    }
                    for ln in lines
                ],
            )
        rows_read += len(rows)
        after = (rows[-1]["ModifiedOn"], rows[-1]["OrderID"])
        if len(rows) < mapping.batch_size:
            break
    seconds = time.perf_counter() - started
    reader.close()
    engine.dispose()
    return {"rows": rows_read, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def child_sync(erp_db: str, loyalty_url: str) -> dict[str, Any]:
    """The real sync: customers and products first (untimed), then the orders (timed)."""
    import logging

    from erp import sync
    from loyalty import create_app

    app = create_app({"DATABASE_URL": loyalty_url, "ERP_ODBC": odbc_for(erp_db)})
    logging.getLogger().setLevel(logging.WARNING)
    started = time.perf_counter()
    setup = sync.run(app, entities=["customers", "products"], trigger="bench")
    setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    summary = sync.run(app, entities=["orders"], trigger="bench")
    seconds = time.perf_counter() - started
    assert summary.status == "ok", summary.error
    return {
        "rows": summary.read,
        "created": summary.created,
        "quarantined": summary.quarantined,
        "seconds": seconds,
        "setup_seconds": setup_seconds,
        "setup_rows": setup.read,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(kind: str, erp_db: str, loyalty_url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--erp-db", erp_db, "--loyalty-url", loyalty_url],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- parent ----------------------------------------------------------------------------------


def measure(orders: int, customers: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    erp_db, base_db, loyalty_db = f"bench_erp_{tag}", f"bench_base_{tag}", f"bench_loyalty_{tag}"
    try:
        erp_url = postgres.create_database(erp_db)
        build_seconds = build_erp(erp_url, orders, customers)
        base_url = postgres.create_database(base_db)
        loyalty_url = postgres.create_database(loyalty_db, migrate=True)
        print(f"[{orders:,} orders] ERP built in {build_seconds:.0f} s; baseline ...", file=sys.stderr)
        baseline = run_child("baseline", erp_db, base_url)
        print(f"[{orders:,} orders] baseline {baseline['seconds']:.1f} s; sync ...", file=sys.stderr)
        synced = run_child("sync", erp_db, loyalty_url)
        print(f"[{orders:,} orders] sync {synced['seconds']:.1f} s", file=sys.stderr)
    finally:
        for name in (erp_db, base_db, loyalty_db):
            postgres.drop_database(name)
    return {"orders": orders, "customers": customers, "baseline": baseline, "sync": synced}


COLUMNS = (
    "orders (2 lines each)",
    "baseline: ODBC read + plain insert",
    "sync through the domain",
    "ratio",
    "peak RSS baseline",
    "peak RSS sync",
)


def report(results: list[dict[str, Any]]) -> str:
    return table(COLUMNS, [row(r) for r in results], "rrrrrr")


def row(result: dict[str, Any]) -> list[str]:
    b, s = result["baseline"], result["sync"]
    return [
        f"{result['orders']:,}",
        f"{b['seconds']:.1f} s ({b['rows'] / b['seconds']:,.0f} orders/s)",
        f"{s['seconds']:.1f} s ({s['rows'] / s['seconds']:,.0f} orders/s)",
        f"{s['seconds'] / b['seconds']:.2f}x",
        f"{b['peak_rss_mb']:.0f} MB",
        f"{s['peak_rss_mb']:.0f} MB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders at the large size")
    parser.add_argument("--small", type=int, default=100_000, help="orders at the small size (0: skip)")
    parser.add_argument("--customers-per-order", type=float, default=0.05)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--child", choices=("baseline", "sync"))
    parser.add_argument("--erp-db")
    parser.add_argument("--loyalty-url")
    args = parser.parse_args()
    if args.child:
        child = child_baseline if args.child == "baseline" else child_sync
        print(json.dumps(child(args.erp_db, args.loyalty_url)))
        return
    sizes = [n for n in (args.small, args.orders) if n]
    results = [measure(n, max(1000, int(n * args.customers_per_order))) for n in sizes]
    figures = report(results)
    print(figures)
    if args.write_docs:
        write_table(HEADING, figures)


if __name__ == "__main__":
    main()
