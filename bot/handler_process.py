"""Handling in a child process of each web worker, at a lower CPU priority than the webhook.

Handler threads inside the web worker share its interpreter lock with the request
threads, so lowering their priority (nice) does little: a handler holding the lock
delays Meta's 200 all the same, and under a burst the engine takes the CPU the webhook
needs to acknowledge. In a child process the kernel's scheduler really does prefer the
webhook: the request path stores and answers first, and the child handles as fast as
the CPU left over allows (the stored rows are the queue, so nothing waits in memory
that the database does not also hold).

The web worker sends the ids of the messages it stored over a pipe, from a feeder
thread, so a slow child never blocks a request. If the child dies, the next batch
starts a new one; rows it had not handled stay ``received`` and the scheduler's
``handle_stranded`` job takes them. On shutdown the pipe is closed and the child
finishes the messages in hand, leaves the queued ones to that job, and exits.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from flask import Flask

from bot import handling, pipeline

log = logging.getLogger(__name__)

RESTART_PAUSE = 2.0  # seconds between two starts of a child that keeps dying
_SIMPLE = (str, int, float, bool, type(None))


class HandlerProcess:
    """The parent's side: a queue the request threads put into, and the child it feeds."""

    def __init__(self, app: Flask) -> None:
        self.config = portable_config(app.config)
        self.nice = handling.configured_nice(app.config)
        self.items: queue.Queue[list[pipeline.Stored] | None] = queue.Queue()
        self.lock = threading.Lock()
        self.started = False
        self.child: Any = None  # multiprocessing's SpawnProcess
        self.conn: Connection | None = None
        self.last_start = 0.0
        self.feeder: threading.Thread | None = None

    def submit(self, items: list[pipeline.Stored]) -> None:
        """Never blocks the request: the feeder thread does the sending."""
        self._start()
        self.items.put(items)

    def start_early(self) -> None:
        """Start the child now (in the background), so the first message does not wait for it."""
        if not self.started:
            self.submit([])

    def _start(self) -> None:
        with self.lock:
            if self.started:
                return
            self.feeder = threading.Thread(target=self._feed, name="handler-feeder", daemon=True)
            self.feeder.start()
            atexit.register(self.close)
            self.started = True

    def _feed(self) -> None:
        while True:
            items = self.items.get()
            if items is None:
                return
            batch = [*items, *self._more()]
            try:
                self._connection().send(batch)
            except (OSError, EOFError, ValueError):
                # Left ``received``: the retry job handles them; the next batch starts a new child.
                log.warning("handler process unreachable; %d message(s) left for the retry job", len(batch))
                self._stop_child()
            except Exception:
                # Whatever it was, the feeder must keep feeding: these wait for the retry job.
                log.exception("handler process could not be started; %d message(s) left for the retry job", len(batch))
                self._stop_child()

    def _more(self) -> list[pipeline.Stored]:
        """Whatever else is already waiting, sent in the same write."""
        more: list[pipeline.Stored] = []
        while True:
            try:
                items = self.items.get_nowait()
            except queue.Empty:
                return more
            if items is None:
                self.items.put(None)
                return more
            more += items

    def _connection(self) -> Connection:
        if self.child is not None and self.child.is_alive() and self.conn is not None:
            return self.conn
        self._stop_child()
        pause = self.last_start + RESTART_PAUSE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.last_start = time.monotonic()
        context = multiprocessing.get_context("spawn")
        reader, writer = context.Pipe(duplex=False)
        child = context.Process(
            target=run_child,
            args=(reader, self.config, self.nice, logging.getLogger().getEffectiveLevel()),
            name="loyalty-handlers",
            daemon=False,
        )
        child.start()
        reader.close()
        self.child, self.conn = child, writer
        log.info("handler process %d started", child.pid)
        return writer

    def _stop_child(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.child is not None:
            self.child.join(timeout=10)
            if self.child.is_alive():
                self.child.terminate()
            self.child = None

    def close(self) -> None:
        """Let the child finish what it was given, then stop it (worker shutdown)."""
        self.items.put(None)
        if self.feeder is not None:
            self.feeder.join(timeout=10)
        self._stop_child()


def portable_config(config: Any) -> dict[str, Any]:
    """The settings a child needs to build the same app: the plain values (URLs, secrets, names)."""
    return {key: value for key, value in config.items() if key.isupper() and isinstance(value, _SIMPLE)}


def app_factory(config: dict[str, Any]) -> Callable[[dict[str, Any]], Flask]:
    """The factory that built the parent's app, named in ``APP_FACTORY`` (``module:function``).

    The composition root writes its own import path there, so this package never imports it.
    """
    path = str(config.get("APP_FACTORY") or "")
    module, _, name = path.partition(":")
    if not module or not name:
        raise RuntimeError("APP_FACTORY must name the app factory as 'module:function' to start a handler process")
    factory: Callable[[dict[str, Any]], Flask] = getattr(importlib.import_module(module), name)
    return factory


def run_child(conn: Connection, config: dict[str, Any], nice: int, log_level: int) -> None:
    """The child's main loop: build the app, then hand every batch to its handler threads."""
    if nice > 0:
        os.nice(nice)
    # Logs like its parent (the app configures logging only when nothing else has).
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot import sender

    app = app_factory(config)({**config, "BOT_HANDLERS": "threads", "BOT_HANDLER_NICE": 0})
    handlers = handling.handlers(app)
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            break
        handlers.submit(items)
    # The parent is gone or shutting down: finish what is in hand, leave the rest to the retry job
    # (still ``received`` in the database) rather than work through a long backlog alone.
    left = handlers.discard_waiting()
    if left:
        log.info("handler process stopping: %d stored message(s) left for the retry job", left)
    handlers.wait_idle()
    sender.dispatcher(app).wait_idle()
