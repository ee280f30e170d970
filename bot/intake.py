"""What the webhook does with the messages it stored, once its transaction committed.

``BOT_HANDLERS`` decides where they are handled: ``process`` (the default for a served
app) hands them to the child process of this web worker (``bot.handler_process``), so
the webhook keeps the CPU first; ``threads`` (the default when ``TESTING``) to handler
threads inside the worker (``bot.handling``), where tests can wait for them.
``BOT_HANDLE_INLINE`` (tests only) handles in the request thread after the commit.
"""

from __future__ import annotations

import logging

from flask import Flask

from bot import handling, pipeline
from bot.handler_process import HandlerProcess
from runtime.config import ConfigError

log = logging.getLogger(__name__)


def submit(app: Flask, items: list[pipeline.Stored]) -> None:
    """After the webhook's commit: hand the stored messages to the handler threads."""
    if not items:
        return
    if app.config.get("BOT_HANDLE_INLINE"):
        try:
            handling.handle(app, items)
        except Exception:
            log.exception("inbound: handling failed; left for the retry job")
    elif in_child_process(app):
        child_handlers(app).submit(items)
    else:
        handling.handlers(app).submit(items)


MODES = ("process", "threads")


def mode(app: Flask) -> str:
    """``BOT_HANDLERS``, or its default: threads under test, a child process otherwise."""
    return str(app.config.get("BOT_HANDLERS") or ("threads" if app.testing else "process"))


def check_mode(app: Flask) -> None:
    """At start-up, so a typo fails the boot rather than a webhook request."""
    if mode(app) not in MODES:
        raise ConfigError(f"BOT_HANDLERS must be one of {', '.join(MODES)}, not {mode(app)!r}")


def in_child_process(app: Flask) -> bool:
    return mode(app) == "process"


def warm_up(app: Flask) -> None:
    """On a worker's first request: start its handler process, which takes a second to import the app."""
    if in_child_process(app) and not app.config.get("BOT_HANDLE_INLINE"):
        child_handlers(app).start_early()


def child_handlers(app: Flask) -> HandlerProcess:
    found: HandlerProcess | None = app.extensions.get("bot.handler_process")
    if found is None:
        found = app.extensions.setdefault("bot.handler_process", HandlerProcess(app))
    return found
