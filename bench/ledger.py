"""Ledger benchmark: the balance look-up must not slow down as the ledger grows.

Builds the ledger twice in a scratch PostgreSQL database (``--small`` and then
``--entries`` entries over ``--customers`` customers, generated server-side with
``generate_series`` so cached balances and lots are consistent), and times the
look-ups the bot makes for "my points": the customer by phone (its cached
``points_balance``) and the expiring-soon sum over the open-lots partial index.
Reports the median of many repetitions at each size and their ratio (target:
near 1), and how long ``loyalty verify`` (``domain.ledger.verify``) takes.

    .venv/bin/python bench/ledger.py                      # full size: 1,000,000 entries
    .venv/bin/python bench/ledger.py --entries 100000 --reps 500
    .venv/bin/python bench/ledger.py --write-docs          # also update docs/PERFORMANCE.md

Sizes are configurable; the scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import postgres  # noqa: E402
from bench.harness.report import write_section  # noqa: E402
from domain import customers, expiry, ledger  # noqa: E402
from domain.db import Database  # noqa: E402

HEADING = "## Ledger (`bench/ledger.py`)"
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
# Entries are spread over this many days before NOW; lots expire a year after.
SPREAD_DAYS = 330
EXPIRING_DAYS = 45


@dataclass(frozen=True)
class Timing:
    entries: int
    balance_median_us: float
    expiring_median_us: float
    verify_seconds: float
    drifts: int


def phone(i: int) -> str:
    return f"+9198{i:08d}"


def load_customers(db: Database, count: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO customers (id, phone, language, source, opted_in, tier, points_balance, points_owed,
                                       lifetime_points, referral_code, created_at)
                SELECT i, '+9198' || lpad(i::text, 8, '0'), 'en', 'demo', true, 'silver', 0, 0, 0,
                       'B' || i, :now - interval '400 days'
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": count, "now": NOW},
        )
        conn.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": count})


def load_ledger(db: Database, entries: int, customer_count: int) -> None:
    """Replace the ledger with ``entries`` consistent entries and recompute the cached balances.

    Entry ``n`` belongs to customer ``n % C + 1`` as its ``j = n / C``-th entry.
    Every fifth entry of a customer is a 10-point redemption that spent the
    10-point lot four entries earlier, so that lot has nothing left; every other
    entry is a 10-point earn lot still open. Sum of deltas = sum of lots.
    """
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE ledger_entries RESTART IDENTITY"))
        conn.execute(
            text(
                """
                INSERT INTO ledger_entries (customer_id, kind, delta, idempotency_key, remaining, expires_at,
                                            owed_delta, created_at)
                SELECT n % :c + 1,
                       CASE WHEN (n / :c) % 5 = 4 THEN 'redeem' ELSE 'earn' END,
                       CASE WHEN (n / :c) % 5 = 4 THEN -10 ELSE 10 END,
                       'bench:' || n,
                       CASE WHEN (n / :c) % 5 = 4 THEN 0
                            WHEN (n / :c) % 5 = 0 AND n + 4 * :c < :e THEN 0
                            ELSE 10 END,
                       CASE WHEN (n / :c) % 5 = 4 THEN NULL ELSE t + interval '365 days' END,
                       0,
                       t
                FROM generate_series(0, :e - 1) AS n,
                     LATERAL (SELECT :now - (:e - n) * (:spread * interval '1 day') / :e AS t) AS moment
                """
            ),
            {"c": customer_count, "e": entries, "now": NOW, "spread": SPREAD_DAYS},
        )
        conn.execute(
            text(
                """
                UPDATE customers SET points_balance = coalesce(s.balance, 0), lifetime_points = coalesce(s.earned, 0)
                FROM customers c LEFT JOIN (
                    SELECT customer_id, sum(delta) AS balance, sum(greatest(delta, 0)) AS earned
                    FROM ledger_entries GROUP BY customer_id
                ) s ON s.customer_id = c.id
                WHERE customers.id = c.id
                """
            )
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ledger_entries"))
        conn.execute(text("VACUUM ANALYZE customers"))


def lookups(db: Database, customer_count: int, rng: random.Random) -> tuple[Callable[[], object], Callable[[], object]]:
    """The two look-ups the bot makes, each in its own short transaction, on random customers."""

    def balance() -> int:
        with db.sessions() as session:
            customer = customers.get_by_phone(session, phone(rng.randint(1, customer_count)))
            return customer.points_balance

    def expiring() -> object:
        with db.sessions() as session:
            return expiry.expiring_soon(session, rng.randint(1, customer_count), NOW, EXPIRING_DAYS)

    return balance, expiring


def timed_us(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e6


def time_interleaved(dbs: list[Database], customer_count: int, reps: int) -> list[tuple[float, float]]:
    """Median microseconds per database, measured in alternation so machine noise hits both alike."""
    rng = random.Random(7)
    calls = [lookups(db, customer_count, rng) for db in dbs]
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in dbs]
    for round_no in range(reps + 100):
        for (balance, expiring), (b_samples, e_samples) in zip(calls, samples, strict=True):
            b, e = timed_us(balance), timed_us(expiring)
            if round_no >= 100:  # the first rounds warm pools and caches
                b_samples.append(b)
                e_samples.append(e)
    return [(statistics.median(b), statistics.median(e)) for b, e in samples]


def time_verify(db: Database) -> tuple[float, int]:
    started = time.perf_counter()
    with db.sessions() as session:
        drifts = ledger.verify(session)
    return time.perf_counter() - started, len(drifts)


def expiring_plan(db: Database) -> str:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "EXPLAIN SELECT sum(remaining), min(expires_at) FROM ledger_entries "
                "WHERE customer_id = 42 AND remaining > 0 AND expires_at > now() "
                "AND expires_at <= now() + interval '45 days'"
            )
        ).all()
    line: str = next((r[0] for r in rows if "Index" in r[0]), rows[0][0])
    return line.strip().removeprefix("->").strip().split("  (")[0]


def build(entries: int, customer_count: int) -> tuple[str, Database]:
    name = postgres.unique_name("loyalty_bench")
    db = Database(postgres.create_database(name, migrate=True))
    started = time.perf_counter()
    load_customers(db, customer_count)
    load_ledger(db, entries, customer_count)
    print(f"  {name}: {entries:,} entries in {time.perf_counter() - started:.1f}s", flush=True)
    return name, db


def report(small: Timing, large: Timing, customer_count: int, reps: int, plan: str) -> str:
    ratio_balance = large.balance_median_us / small.balance_median_us
    ratio_expiring = large.expiring_median_us / small.expiring_median_us
    today = dt.date.today().isoformat()
    return f"""Command: `.venv/bin/python bench/ledger.py --customers {customer_count} --small {small.entries} \\
--entries {large.entries} --reps {reps} --write-docs` (PostgreSQL {server_version()}, measured {today}
on the shared 2-core development machine). Data is generated server-side with `generate_series`:
every customer has the same share of entries, every fifth a redemption that spent an older lot,
cached balances recomputed from the ledger (so `verify` finds no drift).

The look-ups are what the bot does for "my points", each in its own short transaction through the
ORM: the customer by phone (unique index, cached `points_balance`), and the points expiring within
{EXPIRING_DAYS} days (`expiry.expiring_soon`, which PostgreSQL answers from the open-lots partial
index: `{plan}`). Both databases exist side by side and are measured in alternation,
{reps} repetitions each on random customers; the table shows medians.

| ledger entries | balance look-up (median) | expiring-soon (median) | `loyalty verify` | drift |
| ---: | ---: | ---: | ---: | ---: |
| {small.entries:,} | {small.balance_median_us:.0f} µs | {small.expiring_median_us:.0f} µs | \
{small.verify_seconds:.2f} s | {small.drifts} |
| {large.entries:,} | {large.balance_median_us:.0f} µs | {large.expiring_median_us:.0f} µs | \
{large.verify_seconds:.2f} s | {large.drifts} |
| **ratio** | **{ratio_balance:.2f}** | **{ratio_expiring:.2f}** | | |

The balance look-up costs the same at both sizes (ratio near 1): it reads one customer row and
never sums the ledger. `loyalty verify` is the one operation that reads every entry (one grouped
scan); at {large.entries:,} entries it takes {large.verify_seconds:.1f} s, fine for a nightly or
on-demand check.
"""


def server_version() -> str:
    engine = create_engine(postgres.SERVER_URL)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    engine.dispose()
    return version.split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000, help="ledger entries of the baseline")
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries of the large run")
    parser.add_argument("--reps", type=int, default=2_000, help="repetitions per look-up and size")
    parser.add_argument("--write-docs", action="store_true", help="update the Ledger section of docs/PERFORMANCE.md")
    args = parser.parse_args()

    built: list[tuple[str, Database]] = []
    try:
        for entries in (args.small, args.entries):
            built.append(build(entries, args.customers))
        dbs = [db for _, db in built]
        medians = time_interleaved(dbs, args.customers, args.reps)
        verifies = [time_verify(db) for db in dbs]
        plan = expiring_plan(dbs[1])
    finally:
        for name, db in built:
            db.dispose()
            postgres.drop_database(name)
    small, large = (
        Timing(entries, b, e, v, d)
        for entries, (b, e), (v, d) in zip((args.small, args.entries), medians, verifies, strict=True)
    )
    section = report(small, large, args.customers, args.reps, plan)
    print(section)
    if args.write_docs:
        write_section(HEADING, section)
        print("updated docs/PERFORMANCE.md")


if __name__ == "__main__":
    main()
