"""Webhook benchmark: signed inbound text messages against the real app (gunicorn, PostgreSQL)
and, in the same run, against a bare Flask endpoint that only checks the signature.

Reports each one's throughput (``wrk`` with keep-alive connections, every request a
distinct pre-signed message so nothing is a cheap redelivery), their ratio (target:
ours >= 10% of the bare endpoint), and the real app's latency at a fixed 200
messages a second (an open-loop Python generator that measures from each request's
scheduled time, so a stall is not hidden; target: p99 < 100 ms). Afterwards it checks
that every message was stored and handled once and that the outbox drained.

    .venv/bin/python bench/webhook.py                      # full run (~1 minute)
    .venv/bin/python bench/webhook.py --duration 5 --rate-seconds 5
    .venv/bin/python bench/webhook.py --write-docs         # also update docs/PERFORMANCE.md

Traffic stays on 127.0.0.1; the scratch database is dropped at the end. Needs
``wrk`` (Debian package; installed with apt when missing and running as root).
The messages are made in ``webhook_messages``, the queue is read in ``webhook_backlog``,
the docs section is written by ``webhook_report``; servers and load come from ``bench.harness``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load, postgres, report, servers  # noqa: E402
from bench.webhook_backlog import BacklogWatch, backlog, drain, reply_latencies, tally  # noqa: E402
from bench.webhook_messages import PHONE_NUMBER_ID, READY_PATH, SECRET, webhook_posts  # noqa: E402
from bench.webhook_report import HEADING, Capacity, FixedRate, section  # noqa: E402


@dataclass(frozen=True)
class Traffic:
    """One run's messages, all distinct: a file for wrk's timed runs, one for its warm-ups, the fixed-rate run's."""

    run: str
    timed: Path
    warm: Path
    fixed: list[load.Request]
    fixed_first: int  # the fixed-rate run's first message number


def prepare(args: argparse.Namespace, workdir: Path) -> Traffic:
    run = uuid.uuid4().hex[:6].upper()
    timed, warm = workdir / "requests.tsv", workdir / "warm.tsv"
    load.write_requests(timed, webhook_posts(run, 0, args.messages, args.phones))
    fixed = list(webhook_posts(run, args.messages, int(args.rate * args.rate_seconds), args.phones))
    load.write_requests(warm, webhook_posts(run + "W", 0, 2_000, args.phones))
    return Traffic(run, timed, warm, fixed, args.messages)


def wrk_run(args: argparse.Namespace, url: str, requests_file: Path, seconds: int) -> load.WrkResult:
    return load.run_wrk(load.ensure_wrk(), url, requests_file, seconds, args.connections, args.wrk_threads)


def measure_bare(args: argparse.Namespace, traffic: Traffic) -> load.WrkResult:
    """Throughput of the bare endpoint: what the webhook's HTTP and signature check cost alone."""
    bare_env = {"WHATSAPP_APP_SECRET": SECRET}
    app = "bench.harness.bare:webhook_app()"
    with servers.gunicorn(app, bare_env, args.workers, args.threads, READY_PATH) as bare_url:
        wrk_run(args, bare_url, traffic.warm, 2)
        bare = wrk_run(args, bare_url, traffic.timed, args.duration)
    print(f"bare endpoint: {bare.rps:,.0f} requests/s ({bare.requests} requests, {bare.non_2xx} non-2xx)")
    return bare


@contextlib.contextmanager
def real_app(args: argparse.Namespace, database_url: str) -> Iterator[str]:
    """The app under gunicorn; its replies go to the log-only sender, or with ``--graph-latency`` through pywa."""
    app_env = {
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_TOKEN": "",
        "WHATSAPP_PHONE_ID": "",
    }
    with contextlib.ExitStack() as stack:
        if args.graph_latency is not None:
            graph = stack.enter_context(servers.graph_api(args.graph_latency / 1000))
            app_env |= {"WHATSAPP_TOKEN": "bench-token", "WHATSAPP_PHONE_ID": PHONE_NUMBER_ID}
            app_env["WHATSAPP_API_URL"] = graph
        yield stack.enter_context(servers.gunicorn("wsgi:app", app_env, args.workers, args.threads, READY_PATH))


def measure_throughput(
    args: argparse.Namespace, app_url: str, db: str, traffic: Traffic
) -> tuple[load.WrkResult, Capacity]:
    """wrk against the real app: how fast the webhook answers, and how fast the messages are handled."""
    wrk_run(args, app_url, traffic.warm, 5)
    drain(db)
    handled_before = backlog(db)[2]
    load_started = time.monotonic()
    ours = wrk_run(args, app_url, traffic.timed, args.duration)
    load_seconds = time.monotonic() - load_started
    left = backlog(db)
    print(f"real app: {ours.rps:,.0f} messages/s answered ({ours.requests} requests, {ours.non_2xx} non-2xx)")
    drained = drain(db)
    handled = backlog(db)[2] - handled_before
    capacity = Capacity(
        handled=handled,
        during_load=(left[2] - handled_before) / load_seconds,
        end_to_end=handled / (load_seconds + drained),
        left_waiting=left[0],
        left_unsent=left[1],
        drain_seconds=drained,
    )
    print(
        f"handling: {capacity.during_load:,.0f} messages/s while wrk ran; "
        f"{capacity.end_to_end:,.0f}/s end to end ({handled} messages handled and answered, "
        f"backlog {left[0]} inbound + {left[1]} outbox when wrk stopped, drained in {drained:.1f} s)"
    )
    return ours, capacity


def measure_fixed_rate(args: argparse.Namespace, app_url: str, db: str, traffic: Traffic) -> FixedRate:
    """``--rate`` messages a second, open loop: the webhook's latency, the replies' latency, the backlog."""
    time.sleep(2)
    with BacklogWatch(db) as watch:
        sent = load.open_loop(app_url, traffic.fixed, args.rate)
    rate_drain = drain(db)
    replies = reply_latencies(db, traffic.run, traffic.fixed_first, len(traffic.fixed), sent.start_wall, args.rate)
    nan = float("nan")
    return FixedRate(
        p50=load.percentile(sent.latencies, 50) * 1000,
        p99=load.percentile(sent.latencies, 99) * 1000,
        worst=max(sent.latencies) * 1000,
        failures=sent.failures,
        reply_p50=load.percentile(replies, 50) * 1000 if replies else nan,
        reply_p99=load.percentile(replies, 99) * 1000 if replies else nan,
        reply_max=max(replies) * 1000 if replies else nan,
        replied=len(replies),
        sent=len(traffic.fixed),
        samples=watch.samples,
        drain_seconds=rate_drain,
    )


def print_fixed_rate(args: argparse.Namespace, ratio: float, fixed: FixedRate, counts: dict[str, int | float]) -> None:
    print(f"ratio: {ratio:.1%} (target >= 10%)")
    print(
        f"at {args.rate:.0f}/s for {args.rate_seconds}s: p50 {fixed.p50:.1f} ms, p99 {fixed.p99:.1f} ms, "
        f"max {fixed.worst:.1f} ms"
    )
    print(f"  (target p99 < 100 ms), {fixed.failures} non-200")
    print(
        f"  reply sent after POST: p50 {fixed.reply_p50:.0f} ms, p99 {fixed.reply_p99:.0f} ms, "
        f"max {fixed.reply_max:.0f} ms ({fixed.replied}/{fixed.sent} answered)"
    )
    print(f"  backlog each second (s, inbound waiting, outbox unsent): {fixed.samples}")
    print(f"  drained {fixed.drain_seconds:.1f} s after the last request")
    print(f"database afterwards: {counts}")
    print(f"load average: {os.getloadavg()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk load per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both endpoints)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--phones", type=int, default=20_000, help="distinct customer numbers")
    parser.add_argument("--messages", type=int, default=60_000, help="distinct pre-signed messages for wrk")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second of the latency run")
    parser.add_argument("--rate-seconds", type=int, default=15)
    parser.add_argument("--write-docs", action="store_true", help="update the Webhook section of docs/PERFORMANCE.md")
    parser.add_argument(
        "--graph-latency",
        type=float,
        default=None,
        metavar="MS",
        help="send the replies with the real (pywa) sender to a local Graph API stand-in that answers after MS "
        "milliseconds, instead of the log-only sender",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    load.ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    try:
        with postgres.scratch_database("bench_webhook") as db:
            traffic = prepare(args, workdir)
            bare = measure_bare(args, traffic)
            with real_app(args, db) as app_url:
                ours, capacity = measure_throughput(args, app_url, db, traffic)
                fixed = measure_fixed_rate(args, app_url, db, traffic)
                counts = tally(db)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = ours.rps / bare.rps
    print_fixed_rate(args, ratio, fixed, counts)
    if ours.requests > args.messages:
        print("WARNING: wrk sent more requests than prepared messages; raise --messages", file=sys.stderr)
    if args.write_docs:
        report.write_section(HEADING, section(args, bare, ours, ratio, capacity, fixed, counts))


if __name__ == "__main__":
    main()
