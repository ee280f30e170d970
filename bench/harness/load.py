"""Load generation on 127.0.0.1: closed-loop throughput with ``wrk``, open-loop latency at a fixed rate.

Both send prepared ``Request``s, each distinct if the bench wants it (a webhook redelivery or a cached
answer would flatter the figures). ``wrk`` keeps its connections busy and reports requests a second;
``open_loop`` sends on a schedule and measures each request from the moment it was due, so a stall
shows up in the latency of every request queued behind it instead of slowing the generator down.
"""

from __future__ import annotations

import functools
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Thread i of n sends lines i, i + n, ... of the requests file in turn, from the start again when done.
# A line is the method, the path, any number of "Name: value" headers and the body, separated by tabs.
WRK_SCRIPT = r"""
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  requests, idx = {}, 0
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      local fields = {}
      for f in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = f end
      local headers = {}
      for k = 3, #fields - 1 do
        local name, value = fields[k]:match("^([^:]+): (.*)$")
        headers[name] = value
      end
      local body = fields[#fields]
      requests[#requests + 1] = wrk.format(fields[1], fields[2], headers, body ~= "" and body or nil)
    end
    i = i + 1
  end
end
function request()
  idx = idx + 1
  if idx > #requests then idx = 1 end
  return requests[idx]
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    non_2xx: int
    errors: int  # socket errors: connect, read, write and timeout together


@dataclass(frozen=True)
class OpenLoopResult:
    latencies: list[float]  # seconds from each request's scheduled time to its answer
    failures: int  # answers other than 200
    start_wall: float  # wall-clock time request 0 was due; request j was due j / rate seconds later


def write_requests(path: Path, requests: Iterable[Request]) -> None:
    """The requests file ``run_wrk`` sends from: one request a line, tab-separated (see ``WRK_SCRIPT``)."""
    with path.open("w") as fh:
        for r in requests:
            fields = [r.method, r.path, *(f"{name}: {value}" for name, value in r.headers.items()), r.body.decode()]
            line = "\t".join(fields)
            if line.count("\t") != len(fields) - 1 or "\n" in line:
                raise ValueError(f"a tab or newline inside a field cannot go into a wrk requests file: {r}")
            fh.write(line + "\n")


@functools.cache
def ensure_wrk() -> str:
    """The ``wrk`` executable, installed with apt (Debian package ``wrk``) when missing and running as root."""
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
    """``seconds`` of ``wrk`` against ``url`` with keep-alive ``connections``, sending ``requests_file``."""
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
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        float(rps.group(1)),
        int(total.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(map(int, errors.groups())) if errors else 0,
    )


def open_loop(
    url: str, requests: Sequence[Request], rate: float, senders: int = 32, ok: Collection[int] = (200,)
) -> OpenLoopResult:
    """Send ``requests`` at ``rate`` a second, open loop, from ``senders`` keep-alive connections.

    An answer whose status is not in ``ok`` counts as a failure."""
    target = urlsplit(url)
    start = time.perf_counter() + 0.5
    start_wall = time.time() + (start - time.perf_counter())
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def sender(k: int) -> None:
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        mine: list[float] = []
        for j in range(k, len(requests), senders):
            scheduled = start + j / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            r = requests[j]
            conn.request(r.method, r.path, r.body or None, r.headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - scheduled)
            if response.status not in ok:
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
    return OpenLoopResult(latencies, failures[0], start_wall)


def percentile(values: Sequence[float], p: float) -> float:
    """The value at rank ``round(p / 100 * (n - 1))`` of the ``n`` sorted ``values`` (which must not be empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
