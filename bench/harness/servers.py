"""The servers a bench measures or talks to, each on a free port of 127.0.0.1, stopped when the bench ends.

``gunicorn`` serves an app (the real one, ``wsgi:app``, or a bare endpoint from ``bench.harness.bare``)
with the settings of ``gunicorn_conf.py``; ``graph_api`` runs the Graph API stand-in in its own process.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick for an ephemeral bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gunicorn(app: str, env: dict[str, str], workers: int, threads: int, ready_path: str) -> Iterator[str]:
    """Serve ``app`` (a gunicorn app spec, relative to the project root) and yield its base URL.

    It is yielded once its workers answer ``GET ready_path`` (any status), not merely once the master
    listens, so the first measured requests do not wait for workers importing the app.
    """
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
        wait_listening(port, proc, "gunicorn")
        wait_answering(port, ready_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def graph_api(latency: float) -> Iterator[str]:
    """The Graph API stand-in (``bench.harness.graph_api``) answering after ``latency`` seconds; yields its URL.

    It runs in its own process so that its work is not the load generator's.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "bench.harness.graph_api", str(port), str(latency)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        wait_listening(port, proc, "the Graph API stand-in")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_listening(port: int, proc: subprocess.Popen[bytes], name: str, seconds: float = 60) -> None:
    """Until ``proc`` accepts connections on ``port``; exits the bench if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start listening within {seconds:.0f} s")


def wait_answering(port: int, path: str, answers: int = 20, seconds: float = 120) -> None:
    """Workers import the app after the master binds: wait for ``answers`` real answers, not just a socket."""
    deadline = time.monotonic() + seconds
    answered = 0
    while answered < answers and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            answered += 1
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
