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
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, request

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-app-secret"
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432/postgres")
GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"
TEXTS = ("hi", "points", "1", "menu", "balance", "help")

WRK_SCRIPT = r"""
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  requests, idx, wrapped = {}, 0, 0
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      local sig, body = line:match("^(%S+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", "/webhook",
        {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sig}, body)
    end
    i = i + 1
  end
end
function request()
  idx = idx + 1
  if idx > #requests then idx = 1; wrapped = wrapped + 1 end
  return requests[idx]
end
"""


# -- the bare endpoint: what a webhook costs with nothing behind it ----------------------------
def bare_app() -> Flask:
    """Checks ``X-Hub-Signature-256`` exactly like the real one, then answers 200."""
    from pywa.utils import webhook_updates_validator

    app = Flask("bare")
    secret = os.environ.get("WHATSAPP_APP_SECRET", SECRET)

    @app.post("/webhook")
    def webhook() -> Response:
        body = request.get_data()
        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return Response("Unauthorized", 401)
        if not webhook_updates_validator(secret, body, signature):
            return Response("Forbidden", 403)
        return Response('{"status":"ok"}', 200, content_type="application/json")

    return app


# -- payloads ------------------------------------------------------------------------------
def payload(run: str, i: int, phones: int) -> bytes:
    wa_id = f"9198{i % phones:08d}"
    message = {
        "from": wa_id,
        "id": f"wamid.BENCH{run}{i:09d}",
        "timestamp": "1781517600",
        "type": "text",
        "text": {"body": TEXTS[(i // phones) % len(TEXTS)]},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1022", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def write_requests(path: Path, run: str, start: int, count: int, phones: int) -> None:
    with path.open("w") as fh:
        for i in range(start, start + count):
            body = payload(run, i, phones)
            fh.write(f"{sign(body)}\t{body.decode()}\n")


# -- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gunicorn(app: str, env: dict[str, str], workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    cmd = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "-c",
        str(GUNICORN_CONF),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--chdir",
        str(ROOT),
        app,
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    try:
        wait_listening(port, proc)
        wait_answering(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start listening within 60 s")


def wait_answering(port: int) -> None:
    """Workers import the app after the master binds: wait for real answers, not just a socket."""
    deadline = time.monotonic() + 120
    answered = 0
    while answered < 20 and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", "/webhook?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1")
            conn.getresponse().read()
            answered += 1
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()


@contextmanager
def graph_api(latency: float) -> Iterator[str]:
    """A stand-in for the Graph API in its own process (so its work is not the load generator's): every
    POST is answered like Meta's messages endpoint, after ``latency`` seconds."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-graph", str(port), str(latency)], cwd=ROOT)
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def serve_graph(port: int, latency: float) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            time.sleep(latency)
            to = str(body.get("to") or "")
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.GRAPH{uuid.uuid4().hex}"}],
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return None

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# -- load ------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    rps: float
    requests: int
    non_2xx: int
    errors: int


@dataclass
class Capacity:
    """How fast stored messages were handled and answered under the wrk load."""

    handled: int
    during_load: float  # messages handled per second while wrk ran
    end_to_end: float  # all of them, from the start of the load until the last reply was sent
    left_waiting: int
    left_unsent: int
    drain_seconds: float


@dataclass
class FixedRate:
    p50: float
    p99: float
    worst: float
    failures: int
    reply_p50: float
    reply_p99: float
    reply_max: float
    replied: int
    sent: int
    samples: list[tuple[float, int, int]]
    drain_seconds: float


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is needed: apt-get install wrk")
    print("installing wrk with apt", file=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or "wrk"


def run_wrk(wrk: str, url: str, requests_file: Path, seconds: int, connections: int, threads: int) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        cmd = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            script.name,
            url,
            "--",
            str(requests_file),
            str(threads),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps, total, int(non_2xx.group(1)) if non_2xx else 0, sum(map(int, errors.groups())) if errors else 0
    )


def fixed_rate(url: str, bodies: list[bytes], rate: float, senders: int = 32) -> tuple[list[float], int, float]:
    """Send ``bodies`` at ``rate`` per second, open loop; latency counts from the scheduled time.

    Also returns the wall-clock time of the first scheduled send (message ``j`` is due
    ``j / rate`` seconds later), to compare with the database's timestamps.
    """
    host, port = url.removeprefix("http://").split(":")
    start = time.perf_counter() + 0.5
    start_wall = time.time() + (start - time.perf_counter())
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def sender(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine: list[float] = []
        for j in range(k, len(bodies), senders):
            scheduled = start + j / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request(
                "POST",
                "/webhook",
                bodies[j],
                {"Content-Type": "application/json", "X-Hub-Signature-256": sign(bodies[j])},
            )
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - scheduled)
            if response.status != 200:
                with lock:
                    failures[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures[0], start_wall


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- database --------------------------------------------------------------------------------
def scratch_database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from loyalty.migrate import upgrade

    name = f"bench_webhook_{uuid.uuid4().hex[:8]}"
    engine = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return name, url


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


BACKLOG_SQL = (
    "SELECT (SELECT count(*) FROM inbound_messages WHERE status = 'received'),"
    " (SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')),"
    " (SELECT count(*) FROM inbound_messages WHERE status <> 'received')"
)


def backlog(url: str) -> tuple[int, int, int]:
    """(inbound rows not yet handled, outbox rows not yet sent, inbound rows handled)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            waiting, unsent, handled = conn.execute(text(BACKLOG_SQL)).one()
    finally:
        engine.dispose()
    return int(waiting), int(unsent), int(handled)


class BacklogWatch:
    """Samples the backlog once a second in a thread, to show whether handling keeps up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, inbound waiting, outbox unsent)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BacklogWatch:
        self.started = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        with engine.connect() as conn:
            while not self.stop.wait(1.0):
                waiting, unsent, _ = conn.execute(text(BACKLOG_SQL)).one()
                conn.commit()
                self.samples.append((round(time.monotonic() - self.started, 1), int(waiting), int(unsent)))
        engine.dispose()


def drain(url: str, limit: float = 300) -> float:
    """Seconds until every stored message is handled and every reply sent (``limit`` at most)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        waiting, unsent, _ = backlog(url)
        if waiting == 0 and unsent == 0:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def reply_latencies(url: str, run: str, first: int, count: int, start_wall: float, rate: float) -> list[float]:
    """Seconds from each message's scheduled POST to its first reply being marked sent."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    ids = [f"wamid.BENCH{run}{i:09d}" for i in range(first, first + count)]
    sql = text(
        "SELECT i.wa_message_id, o.sent_at FROM inbound_messages i "
        "JOIN outbox o ON o.idempotency_key = 'reply:' || i.wa_message_id || '\\:0' "
        "WHERE i.wa_message_id = ANY(:ids) AND o.sent_at IS NOT NULL"
    )
    with engine.connect() as conn:
        sent = dict(conn.execute(sql, {"ids": ids}).all())
    engine.dispose()
    out = []
    for j, wamid in enumerate(ids):
        at = sent.get(wamid)
        if at is not None:
            out.append(at.timestamp() - (start_wall + j / rate))
    return out


def tally(url: str, drain_seconds: float = 60) -> dict[str, int | float]:
    """Inbound rows by status, and how long the outbox took to drain after the load stopped."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    started = time.monotonic()
    with engine.connect() as conn:
        while time.monotonic() - started < drain_seconds:
            pending = conn.execute(
                text("SELECT count(*) FROM outbox WHERE status IN ('queued','sending')")
            ).scalar_one()
            conn.commit()
            if pending == 0:
                break
            time.sleep(0.5)
        counts: dict[str, int | float] = dict(
            conn.execute(text("SELECT 'inbound_' || status, count(*) FROM inbound_messages GROUP BY status")).all()  # type: ignore[arg-type]
        )
        counts.update(conn.execute(text("SELECT 'outbox_' || status, count(*) FROM outbox GROUP BY status")).all())  # type: ignore[arg-type]
        counts["outbox_drain_seconds"] = round(time.monotonic() - started, 1)
    engine.dispose()
    return counts


# -- report ----------------------------------------------------------------------------------
def write_docs(section: str) -> None:
    """Replace only the body of the "## Webhook" section of docs/PERFORMANCE.md."""
    path = ROOT / "docs" / "PERFORMANCE.md"
    content = path.read_text()
    pattern = re.compile(r"(## Webhook \(`bench/webhook.py`\)\n\n)(.*?)(\n## |\Z)", re.S)
    if not pattern.search(content):
        raise SystemExit("docs/PERFORMANCE.md has no '## Webhook (`bench/webhook.py`)' section")
    path.write_text(pattern.sub(lambda m: m.group(1) + section + m.group(3), content, count=1))


def main() -> None:
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
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    wrk = ensure_wrk()
    run = uuid.uuid4().hex[:6].upper()
    name, url = scratch_database()
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    try:
        requests_file = workdir / "requests.tsv"
        write_requests(requests_file, run, 0, args.messages, args.phones)
        rate_bodies = [
            payload(run, i, args.phones)
            for i in range(args.messages, args.messages + int(args.rate * args.rate_seconds))
        ]
        warm = workdir / "warm.tsv"
        write_requests(warm, run + "W", 0, 2_000, args.phones)

        bare_env = {"WHATSAPP_APP_SECRET": SECRET}
        with gunicorn("bench.webhook:bare_app()", bare_env, args.workers, args.threads) as bare_url:
            run_wrk(wrk, bare_url, warm, 2, args.connections, args.wrk_threads)
            bare = run_wrk(wrk, bare_url, requests_file, args.duration, args.connections, args.wrk_threads)
        print(f"bare endpoint: {bare.rps:,.0f} requests/s ({bare.requests} requests, {bare.non_2xx} non-2xx)")

        app_env = {
            "APP_ENV": "development",
            "DATABASE_URL": url,
            "WHATSAPP_APP_SECRET": SECRET,
            "WHATSAPP_TOKEN": "",
            "WHATSAPP_PHONE_ID": "",
        }
        with contextlib.ExitStack() as stack:
            if args.graph_latency is not None:
                graph = stack.enter_context(graph_api(args.graph_latency / 1000))
                app_env |= {"WHATSAPP_TOKEN": "bench-token", "WHATSAPP_PHONE_ID": "106540352242922"}
                app_env["WHATSAPP_API_URL"] = graph
            app_url = stack.enter_context(gunicorn("wsgi:app", app_env, args.workers, args.threads))
            run_wrk(wrk, app_url, warm, 5, args.connections, args.wrk_threads)
            drain(url)
            handled_before = backlog(url)[2]
            load_started = time.monotonic()
            ours = run_wrk(wrk, app_url, requests_file, args.duration, args.connections, args.wrk_threads)
            load_seconds = time.monotonic() - load_started
            left = backlog(url)
            print(f"real app: {ours.rps:,.0f} messages/s answered ({ours.requests} requests, {ours.non_2xx} non-2xx)")
            drained = drain(url)
            handled = backlog(url)[2] - handled_before
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
            time.sleep(2)
            with BacklogWatch(url) as watch:
                latencies, rate_failures, start_wall = fixed_rate(app_url, rate_bodies, args.rate)
            rate_drain = drain(url)
            replies = reply_latencies(url, run, args.messages, len(rate_bodies), start_wall, args.rate)
            counts = tally(url)
        ratio = ours.rps / bare.rps
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        worst = max(latencies) * 1000
        fixed = FixedRate(
            p50=p50,
            p99=p99,
            worst=worst,
            failures=rate_failures,
            reply_p50=percentile(replies, 50) * 1000 if replies else float("nan"),
            reply_p99=percentile(replies, 99) * 1000 if replies else float("nan"),
            reply_max=max(replies) * 1000 if replies else float("nan"),
            replied=len(replies),
            sent=len(rate_bodies),
            samples=watch.samples,
            drain_seconds=rate_drain,
        )
        print(f"ratio: {ratio:.1%} (target >= 10%)")
        print(f"at {args.rate:.0f}/s for {args.rate_seconds}s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
        print(f"  (target p99 < 100 ms), {rate_failures} non-200")
        print(
            f"  reply sent after POST: p50 {fixed.reply_p50:.0f} ms, p99 {fixed.reply_p99:.0f} ms, "
            f"max {fixed.reply_max:.0f} ms ({fixed.replied}/{fixed.sent} answered)"
        )
        print(f"  backlog each second (s, inbound waiting, outbox unsent): {fixed.samples}")
        print(f"  drained {rate_drain:.1f} s after the last request")
        print(f"database afterwards: {counts}")
        print(f"load average: {os.getloadavg()}")
        if ours.requests > args.messages:
            print("WARNING: wrk sent more requests than prepared messages; raise --messages", file=sys.stderr)
        if args.write_docs:
            write_docs(section(args, bare, ours, ratio, capacity, fixed, counts))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        drop_database(name)


def section(
    args: argparse.Namespace,
    bare: WrkResult,
    ours: WrkResult,
    ratio: float,
    capacity: Capacity,
    fixed: FixedRate,
    counts: dict[str, int | float],
) -> str:
    cores = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    verdict_ratio = "meets" if ratio >= 0.10 else "MISSES"
    verdict_p99 = "meets" if fixed.p99 < 100 else "MISSES"
    keeps_up = capacity.end_to_end >= args.rate
    verdict_capacity = "keeps up with" if keeps_up else "does NOT keep up with"
    wrk = f"`wrk -t{args.wrk_threads} -c{args.connections}`"
    gunicorn = f"gunicorn `gthread` with {args.workers} workers x {args.threads} threads"
    after = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    peak_waiting = max((w for _, w, _ in fixed.samples), default=0)
    peak_unsent = max((u for _, _, u in fixed.samples), default=0)
    last = fixed.samples[-1] if fixed.samples else (0.0, 0, 0)
    return (
        f"Command: `.venv/bin/python bench/webhook.py --write-docs`. Defaults: {args.duration} s of {wrk} per\n"
        f"endpoint, {gunicorn} for both, PostgreSQL, {args.phones:,} distinct numbers, every request a\n"
        f"distinct signed text message; then {args.rate:.0f} messages/s for {args.rate_seconds} s, open loop.\n"
        f"Measured {time.strftime('%Y-%m-%d')} on {cores} cores, load generator and PostgreSQL on the same\n"
        f"machine; load average at the end of the run: {load}.\n\n"
        "The webhook stores each payload (one INSERT ... ON CONFLICT DO NOTHING, autocommitted) and answers\n"
        "200; a child process of each gunicorn worker (`BOT_HANDLERS=process`, the default) then runs the\n"
        "flood check, the engine and the outbox, and its sender threads send the replies. So the request\n"
        "figures below are what Meta sees, and the handling figures are what the customer sees; both come\n"
        "from the same run.\n\n"
        "| endpoint | throughput | non-2xx |\n"
        "| --- | --- | --- |\n"
        f"| bare Flask endpoint (signature check, 200) | {bare.rps:,.0f} requests/s | {bare.non_2xx} |\n"
        f"| real app: webhook answered (verified, parsed, stored) | {ours.rps:,.0f} messages/s | {ours.non_2xx} |\n"
        f"| **ratio** | **{ratio:.1%}** (target >= 10%: {verdict_ratio}) | |\n"
        f"| real app: handled and answered while wrk ran | {capacity.during_load:,.0f} messages/s | |\n"
        f"| real app: handled and answered, end to end | **{capacity.end_to_end:,.0f} messages/s** | |\n\n"
        f"End to end means all {capacity.handled:,} messages of the wrk run, from the first request until the\n"
        f"last reply was marked sent: when wrk stopped, {capacity.left_waiting:,} stored messages were still\n"
        f"waiting for a handler and {capacity.left_unsent:,} replies for a sender; they were done\n"
        f"{capacity.drain_seconds:.1f} s later. Under a closed-loop flood the webhook accepts messages faster\n"
        "than the engine answers them; the stored rows are the queue, and nothing is lost or answered twice.\n\n"
        f"Real app at a fixed {args.rate:.0f} messages/s: webhook answer p50 {fixed.p50:.1f} ms,\n"
        f"**p99 {fixed.p99:.1f} ms**, "
        f"max {fixed.worst:.1f} ms (target p99 < 100 ms: {verdict_p99}; {fixed.failures} non-200). Reply marked sent,\n"
        f"counted from each message's scheduled POST: p50 {fixed.reply_p50:.0f} ms, p99 {fixed.reply_p99:.0f} ms,\n"
        f"max {fixed.reply_max:.0f} ms ({fixed.replied:,} of {fixed.sent:,} messages answered). Backlog sampled\n"
        f"every second during that run: at most {peak_waiting} stored messages waiting and {peak_unsent} replies\n"
        f"unsent, {last[1]} and {last[2]} at the last sample; everything was done {fixed.drain_seconds:.1f} s\n"
        f"after the last request. Handling capacity ({capacity.end_to_end:,.0f}/s) {verdict_capacity}\n"
        f"{args.rate:.0f}/s.\n\n"
        f"Database afterwards: {after}. Without `WHATSAPP_TOKEN` the sender is the log-only one, so\n"
        '"sent" means claimed and marked sent by the after-commit sender threads; the Graph API\'s own\n'
        "latency is never part of the webhook's answer, by design.\n\n"
        + ANALYSIS.replace("{short}", "" if keeps_up else SHORT)
    )


SHORT = """ At this run's rate the handlers fell behind: on two cores shared with PostgreSQL
and the load generator, the niced handler processes get what the webhook leaves over, by design, so a
backlog builds and drains after the burst."""

ANALYSIS = """\
What changed since the first measurement (68 messages/s, 3.3%, p99 about 33 s at 200/s, handling inside
the request), in the order it was done:

- The webhook verifies, parses and stores (one prebuilt INSERT ... ON CONFLICT DO NOTHING RETURNING on
  the unique `wa_message_id`, status `received`, on a Core connection, autocommitted) and answers 200. The
  handling claims the phone's oldest stored message with a conditional UPDATE (`received` -> `handled`)
  inside its own transaction, so a crash or a database error leaves it `received`; the scheduler's
  `handle_stranded` job (every 15 s) handles any row still `received` after 30 s, and a second claimer
  waits on the conversation lock and then finds the row taken, so each message is handled once.
- **Handling runs in a child process of each web worker** (`bot/handler_process.py`), niced by 10. Handler
  threads inside the worker shared its interpreter lock with the request threads, so lowering their
  priority did little: under a burst the engine held the lock and the CPU the webhook needed. The worker
  sends the stored ids over a pipe from a feeder thread (a request never waits for the child); the child
  builds its own app from the plain settings. A dead child is replaced by the next batch, and whatever it
  had not handled is still `received` in the database. `BOT_HANDLERS=threads` keeps the old in-process
  threads (the default under test, where tests wait for them).
- **Six statements for a first contact instead of eleven** (`bench/message_cost.py` counts them; the
  request's INSERT not included): the conversation is created or locked by one INSERT ... ON CONFLICT DO
  UPDATE ... RETURNING (it was SELECT FOR UPDATE, INSERT, SELECT FOR UPDATE) and kept out of the ORM
  session, then written back by one UPDATE (the ORM flushed it twice, before a query and at the end);
  flows run without a savepoint, and the rare message whose flow raises a domain error is rolled back whole
  and handled again inside one, so its partial writes are still undone; `last_active_at` is written at
  most every 5 minutes rather than on every message.
- **Batches**: a handler thread with a backlog takes up to 20 queued messages into one transaction (phones
  in a fixed order, so two batches never wait on each other in a cycle; any failure rolls the batch back
  and each phone is handled on its own), and their replies are marked sent by one UPDATE.
- **The store is one round trip**: the payload's INSERT runs on an autocommit connection from a pool of its
  own (`Database.single_statement`), so PostgreSQL sees no BEGIN and COMMIT around it (a single statement is
  atomic and as durable on its own), and no pooled connection is switched in and out of autocommit, which
  cost a round trip on every check-in.
- Earlier: one customer look-up per message, the program rules parsed again only when their settings row
  changes, no `pool_pre_ping`, the unsent-reply check folded into the first reply's INSERT.

Per message, measured sequentially through Flask's test client on PostgreSQL (`bench/message_cost.py`,
CPU of the app process and of the PostgreSQL backends): see the table in the next section. Under the
concurrent load above, each message costs more than that (threads and processes wake each other, and
PostgreSQL commits concurrently), which is why the drain rate is below what the sequential figures
suggest.{short}

How steady these figures are: shorter runs (10 s of wrk, 10-15 s at 200/s) on the same machine gave
ratios of 9.0% to 15.7% before the autocommit store (nine runs) and 11.1% to 16.9% after it (three runs,
plus the full run above); the webhook's p99 at 200/s stayed between 9 and 57 ms in all of them. In the
slowest runs the handlers fell behind for a few seconds at 200/s (replies p99 up to 2.5 s) and caught up
before the end. Everything shares two cores, so the ratio moves with whatever else the machine does.
"""


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-graph"]:
        serve_graph(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
