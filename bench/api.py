"""Integration API benchmark: the real app under gunicorn on PostgreSQL, against a bare endpoint, same run.

- member look-up by phone (``GET /api/v1/members?phone=``, an API key, the rate limit counted) as a
  share of the throughput of a bare Flask endpoint doing one indexed SELECT (target >= 30%),
- posting a sale (``POST /api/v1/transactions``, every order distinct, so each earns) as a share of
  the same bare endpoint (target >= 20%),
- the same sale with an ``Idempotency-Key``, and with every sale for one member (no targets: what a
  till's retry key costs, and sales queued on one member's row lock),
- a sale's latency at a fixed 100 requests a second, open loop (target p99 < 50 ms),
- look-up latency with 10,000 members and again after growing to 1,000,000 (target: flat).

Members are inserted with ``generate_series`` (1M in well under a minute). Before the bare endpoint,
the sales and the fixed-rate run, ``settle`` runs VACUUM ANALYZE and a CHECKPOINT, so that no phase
measures the autovacuum and checkpoint the previous one set off. ``wrk`` measures throughput
with keep-alive connections; the open-loop generator measures from each request's scheduled time.

    .venv/bin/python bench/api.py                    # 10k then 1M members (~3 minutes)
    .venv/bin/python bench/api.py --large 100000 --duration 5
    .venv/bin/python bench/api.py --write-docs       # also update docs/PERFORMANCE.md

Traffic stays on 127.0.0.1; the scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load, postgres, report, servers  # noqa: E402
from domain.db import make_engine  # noqa: E402

HEADING = "## Integration API (`bench/api.py`)"
READY_PATH = "/health"
MEMBERS_SQL = """
INSERT INTO customers (id, phone, name, language, source, opted_in, tier, points_balance, points_owed,
                       points_held, lifetime_points, referral_code, created_at, marketing_opt_in, is_test)
SELECT i, '+9198' || lpad(i::text, 8, '0'), 'Member ' || i, 'en', 'erp', true,
       (ARRAY['silver','silver','gold','platinum'])[1 + i % 4], 0, 0, 0, 0,
       'B' || upper(to_hex(i + 1048576)), now() - make_interval(days => i % 700), false, false
FROM generate_series(:first, :last) AS i
"""


def phone(i: int) -> str:
    return f"+9198{i:08d}"


def grow(url: str, first: int, last: int) -> float:
    """Members ``first..last`` in one INSERT, then VACUUM ANALYZE; returns the seconds it took."""
    started = time.perf_counter()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(MEMBERS_SQL), {"first": first, "last": last})
        conn.execute(text("SELECT setval('customers_id_seq', :n)"), {"n": last})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE customers"))
    engine.dispose()
    return time.perf_counter() - started


def settle(url: str) -> None:
    """Write out what the last phase left (a CHECKPOINT) and refresh the planner's figures, so that a
    phase does not pay for the one before it: the bulk growth, tens of thousands of sales written by
    wrk, and the autovacuum and checkpoint they would set off in the middle of the next measurement."""
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        try:
            conn.execute(text("CHECKPOINT"))
        except DBAPIError as exc:  # not a superuser (nor pg_checkpoint): the phases may then overlap
            print(f"note: no CHECKPOINT between phases ({exc.orig})", file=sys.stderr)
    engine.dispose()


def make_key(url: str) -> str:
    """An API key with every scope the bench uses and a rate far above what it sends (it is still counted)."""
    from domain import api_keys
    from domain.db import Database

    db = Database(url)
    with db.unit_of_work() as session:
        _key, secret = api_keys.create_key(
            session,
            "bench",
            "members:read,transactions:write",
            actor="bench",
            now=dt.datetime.now(dt.UTC),
            rate="100000000/minute",
        )
    db.dispose()
    return secret


def lookups(key: str, members: int, count: int, bare: bool = False) -> list[load.Request]:
    rng = random.Random(7)
    path = "/bare/members" if bare else "/api/v1/members"
    headers = {} if bare else {"Authorization": f"Bearer {key}"}
    return [load.Request("GET", f"{path}?phone={quote(phone(rng.randint(1, members)))}", headers) for _ in range(count)]


def sales(
    key: str, members: int, count: int, tag: str, *, one_member: bool = False, keyed: bool = False
) -> list[load.Request]:
    """Distinct sales, each for a member drawn from all of them as a shop's tills would (or all for member
    1 with ``one_member``: they then queue on that member's row lock), with an ``Idempotency-Key`` if ``keyed``."""
    rng = random.Random(tag)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out = []
    for n in range(count):
        body = {
            "order_id": f"BENCH-{tag}-{n}",
            "member_id": 1 if one_member else rng.randint(1, members),
            "amount": f"{rng.randint(100, 9999)}.00",
        }
        extra = {"Idempotency-Key": f"bench-{tag}-{n}"} if keyed else {}
        out.append(load.Request("POST", "/api/v1/transactions", headers | extra, json.dumps(body).encode()))
    return out


def sequential(url: str, requests: list[load.Request]) -> list[float]:
    """Milliseconds of each request, one at a time on one keep-alive connection (after 50 warm-ups)."""
    conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=30)
    samples = []
    for i, r in enumerate(requests):
        started = time.perf_counter()
        conn.request(r.method, r.path, r.body or None, r.headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"{r.path}: {answer.status}")
        if i >= 50:
            samples.append((time.perf_counter() - started) * 1000)
    conn.close()
    return samples


@dataclass
class Figures:
    small: int
    large: int
    grow_seconds: float
    lookup_small: list[float]
    lookup_large: list[float]
    bare: load.WrkResult
    lookup: load.WrkResult
    sale: load.WrkResult
    keyed: load.WrkResult
    one_member: load.WrkResult
    fixed: load.OpenLoopResult
    rate: float


def wrk(args: argparse.Namespace, url: str, path: Path) -> load.WrkResult:
    return load.run_wrk(load.ensure_wrk(), url, path, args.duration, args.connections, args.wrk_threads)


def run(args: argparse.Namespace, db: str, workdir: Path) -> Figures:
    grow(db, 1, args.small)
    key = make_key(db)
    env = {"APP_ENV": "development", "DATABASE_URL": db, "WHATSAPP_TOKEN": "", "WHATSAPP_PHONE_ID": ""}
    with servers.gunicorn("wsgi:app", env, args.workers, args.threads, READY_PATH) as app_url:
        lookup_small = sequential(app_url, lookups(key, args.small, args.samples + 50))
    grown = grow(db, args.small + 1, args.large)
    print(f"grew to {args.large:,} members in {grown:.0f} s")
    files = {name: workdir / f"{name}.tsv" for name in ("bare", "lookup", "sale", "warm", "keyed", "one")}
    load.write_requests(files["bare"], lookups(key, args.large, 20_000, bare=True))
    load.write_requests(files["lookup"], lookups(key, args.large, 20_000))
    load.write_requests(files["sale"], sales(key, args.large, args.sales, "wrk"))
    load.write_requests(files["warm"], sales(key, args.large, 2_000, "warm"))
    load.write_requests(files["keyed"], sales(key, args.large, args.sales, "keyed", keyed=True))
    load.write_requests(files["one"], sales(key, args.large, args.sales, "one", one_member=True))
    settle(db)
    with servers.gunicorn(
        "bench.harness.bare:lookup_app()", env, args.workers, args.threads, "/bare/members"
    ) as bare_url:
        wrk(args, bare_url, files["bare"])
        bare = wrk(args, bare_url, files["bare"])
    print(f"bare SELECT: {bare.rps:,.0f}/s")
    with servers.gunicorn("wsgi:app", env, args.workers, args.threads, READY_PATH) as app_url:
        lookup_large = sequential(app_url, lookups(key, args.large, args.samples + 50))
        wrk(args, app_url, files["lookup"])
        lookup = wrk(args, app_url, files["lookup"])
        print(f"look-up: {lookup.rps:,.0f}/s ({lookup.non_2xx} non-2xx)")
        wrk(args, app_url, files["warm"])
        settle(db)
        sale = wrk(args, app_url, files["sale"])
        print(f"sale: {sale.rps:,.0f}/s ({sale.non_2xx} non-2xx, {sale.requests} of {args.sales} prepared)")
        keyed = wrk(args, app_url, files["keyed"])
        print(f"sale with Idempotency-Key: {keyed.rps:,.0f}/s ({keyed.non_2xx} non-2xx)")
        one_member = wrk(args, app_url, files["one"])
        print(f"sale, all for one member: {one_member.rps:,.0f}/s ({one_member.non_2xx} non-2xx)")
        settle(db)
        time.sleep(2)
        fixed = load.open_loop(
            app_url, sales(key, args.large, int(args.rate * args.rate_seconds), "fixed"), args.rate, ok=(201,)
        )
    lookups_done = (lookup_small, lookup_large, bare, lookup)
    return Figures(args.small, args.large, grown, *lookups_done, sale, keyed, one_member, fixed, args.rate)


def section(args: argparse.Namespace, f: Figures) -> str:
    def ms(values: list[float], p: float) -> str:
        return f"{load.percentile(values, p):.1f}"

    fixed_ms = [s * 1000 for s in f.fixed.latencies]
    throughput = table_rows(f)
    latency = [
        [f"look-up, {f.small:,} members", ms(f.lookup_small, 50), ms(f.lookup_small, 90), ms(f.lookup_small, 99)],
        [f"look-up, {f.large:,} members", ms(f.lookup_large, 50), ms(f.lookup_large, 90), ms(f.lookup_large, 99)],
        [f"sale at {f.rate:.0f}/s, open loop ({len(fixed_ms)} sales, {f.fixed.failures} not 201)",
         ms(fixed_ms, 50), ms(fixed_ms, 90), ms(fixed_ms, 99)],
    ]  # fmt: skip
    command = ".venv/bin/python bench/api.py --write-docs"
    return (
        f"`{command}` (rewrites this section). PostgreSQL on this machine (2 cores shared with the load "
        f"generator), gunicorn {args.workers} workers x {args.threads} threads for both servers, `wrk` "
        f"{args.connections} connections for {args.duration} s each, `RATELIMIT_STORAGE_URI=memory://`; members "
        f"grown from {f.small:,} to {f.large:,} with `generate_series` in {f.grow_seconds:.0f} s.\n\n"
        + report.table(["endpoint", "requests/s", "share of the bare SELECT", "target"], throughput, "lrrl")
        + "\n\nLatency in ms (look-ups one at a time on one connection; the sale at a fixed rate from its "
        "scheduled time):\n\n"
        + report.table(["request", "p50", "p90", "p99"], latency, "lrrr")
        + "\n\nTargets: look-up >= 30% and sale >= 20% of the bare SELECT; sale p99 < 50 ms at 100/s; "
        f"look-up flat from 10k to 1M members. Load average when the run ended: {os.getloadavg()[0]:.1f} "
        "(other work on the machine counts against every figure).\n\n" + NOTES + "\n"
    )


NOTES = """What a request costs. A look-up is two queries, each one round trip on PostgreSQL's autocommit pool
(`Database.reads`: no BEGIN or COMMIT around a read): the API key by its hash (the statement built once) and the
member by the unique index on `customers.phone`, the phone parsed once (by the request's field, then
`find_by_e164`); the rate limit is one call to its store (a clock-aligned fixed window, so its reset time needs no
second call); the bare endpoint's one SELECT comes with a BEGIN and a ROLLBACK. Its time stays flat from 10k to 1M
members because every step is an index look-up. A sale is the API key's look-up and then one transaction of 4
statements and its COMMIT: the customer locked, with the program's rules read in the same statement (parsed once and
kept while the stored value is the same); under the lock one look for the order, the member's rolling spend (for the
tier) and whether any campaign runs that day (only on such days a fifth statement reads them); one statement
(`order_batches.record_one`, PostgreSQL's data-modifying CTEs) that writes the customer's new balance, lifetime
points, first purchase and tier, the order, its ledger lot (key `erp:order:<order_id>`) and its notifications
(points earned, tier changed); and the audit entry (a prebuilt INSERT, no ORM object). A member with a referral
bonus pending, an affiliate or owed points goes through the ERP's per-order code (`orders.create_order`) instead;
both write the same rows. With `Idempotency-Key` three statements more (the claim and its COMMIT in a short
transaction of their own, so that a retry in flight is told `request_in_progress`, and the stored answer). The sales
are spread over all the members, as a shop's tills are; "for one member" queues every sale on that member's row
lock."""


def table_rows(f: Figures) -> list[list[str]]:
    return [
        ["bare Flask, one indexed SELECT", f"{f.bare.rps:,.0f}", "100%", ""],
        ["`GET /api/v1/members?phone=`", f"{f.lookup.rps:,.0f}", f"{f.lookup.rps / f.bare.rps:.0%}", ">= 30%"],
        ["`POST /api/v1/transactions`", f"{f.sale.rps:,.0f}", f"{f.sale.rps / f.bare.rps:.0%}", ">= 20%"],
        ["the same, with `Idempotency-Key`", f"{f.keyed.rps:,.0f}", f"{f.keyed.rps / f.bare.rps:.0%}", ""],
        ["the same, every sale for one member", f"{f.one_member.rps:,.0f}", f"{f.one_member.rps / f.bare.rps:.0%}", ""],
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="members for the first look-ups")
    parser.add_argument("--large", type=int, default=1_000_000, help="members after growing")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--samples", type=int, default=1000, help="sequential look-ups at each size")
    parser.add_argument("--sales", type=int, default=40_000, help="distinct sales prepared for wrk")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--rate-seconds", type=int, default=20)
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    load.ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        with postgres.scratch_database("bench_api") as db:
            figures = run(args, db, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    body = section(args, figures)
    print(body)
    print(f"load average: {os.getloadavg()}")
    if max(figures.sale.requests, figures.keyed.requests, figures.one_member.requests) > args.sales:
        print(
            "WARNING: wrk sent more sales than prepared (repeats answer 200, cheaper); raise --sales", file=sys.stderr
        )
    if args.write_docs:
        report.write_section(HEADING, body, before="## Console (`bench/admin.py`)")


if __name__ == "__main__":
    main()
