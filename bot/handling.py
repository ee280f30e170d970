"""Handler threads: stored inbound messages are handled right after the webhook answered.

The webhook's request only verifies, parses and stores (one commit) and answers 200;
the conversation engine runs here, off the request path. A few threads per process,
and every message of one phone goes to the same thread, so a customer's messages are
handled in order while different customers don't wait for each other. If the process
dies first, the rows stay ``received`` and the scheduler's ``handle_stranded`` job
handles them (``bot.pipeline`` explains why that handles each message once).

Where the threads run is ``BOT_HANDLERS``: ``process`` (the default for a served app)
puts them in a child process of each web worker (``bot.handler_process``), so the
webhook keeps the CPU first; ``threads`` (the default when ``TESTING``) keeps them in
the web worker, where tests can wait for them. ``bot.intake`` makes that choice.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable
from typing import Any

from flask import Flask

from bot import pipeline, sender
from bot.lanes import PhoneLanes

log = logging.getLogger(__name__)


class Handlers(PhoneLanes[pipeline.Stored]):
    """Per-process handler threads, one lane per phone."""

    thread_name = "inbound-handler"

    def __init__(self, app: Flask, threads: int = 4) -> None:
        super().__init__(threads)
        self.app = app

    def _run(self, q: queue.Queue[pipeline.Stored]) -> None:
        lower_priority(configured_nice(self.app.config))
        while True:
            batch = [q.get()]
            while len(batch) < BATCH and not q.empty():
                batch.append(q.get_nowait())  # only this thread takes from its queue
            try:
                handle(self.app, batch)
            except Exception:
                # The rows stay ``received``; the scheduler's handle_stranded job takes them later.
                log.exception("inbound: handling %d message(s) failed; left for the retry job", len(batch))
            finally:
                for _ in batch:
                    q.task_done()


DEFAULT_THREADS = 4
DEFAULT_NICE = 10
BATCH = 20  # messages one handler thread takes into one transaction when a backlog has built up


def configured_nice(config: Any) -> int:
    """``BOT_HANDLER_NICE`` (a string from the environment, an int from code), or the default."""
    value = config.get("BOT_HANDLER_NICE")
    return DEFAULT_NICE if value in (None, "") else int(value)


def lower_priority(nice: int) -> None:
    """Let the kernel prefer the request threads: the webhook's 200 must not wait behind handling.

    On Linux each thread has its own nice value, so this lowers only the calling thread.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:
        log.warning("could not lower the handler threads' CPU priority")


def handle(app: Flask, items: Iterable[pipeline.Stored]) -> None:
    """Handle stored messages (and older ones of the same phones) and send the replies after commit."""
    from runtime import services

    replies = pipeline.handle_batch(services.database(app), list(items), services.now(app), app.config)
    if replies:
        sender.dispatcher(app).submit(replies)


def handlers(app: Flask) -> Handlers:
    found: Handlers | None = app.extensions.get("bot.handlers")
    if found is None:
        threads = int(app.config.get("BOT_HANDLER_THREADS") or DEFAULT_THREADS)
        found = app.extensions.setdefault("bot.handlers", Handlers(app, threads))
    return found


def settle(app: Flask) -> None:
    """Wait until every message handed over was handled and its replies tried (tests)."""
    found: Handlers | None = app.extensions.get("bot.handlers")
    if found is not None:
        found.wait_idle()
    sender.dispatcher(app).wait_idle()
