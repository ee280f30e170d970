"""Rate limits per API key (or signed-in person), shared by every worker and host through one store.

Flask-Limiter holds the store and the strategy: ``RATELIMIT_STORAGE_URI`` is ``memory://`` by default
(per process, for development) and ``redis://...`` in production, where all workers count together.
The limit is the key's own rate, or ``API_RATE_LIMIT`` (default ``600/minute``). It is counted after
authentication, so a caller is identified by who they are, not by their address; a store that cannot
be reached lets requests through (logged) rather than taking the API down with it.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse

from api.errors import ApiProblem

log = logging.getLogger(__name__)
DEFAULT_RATE = "600/minute"
# Wrong passwords per client address before the token endpoint stops answering for a while.
SIGN_IN_RATE = "30 per 15 minutes"


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset_at: float


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "loyalty")
    limiter = Limiter(key_func=get_remote_address, app=app, default_limits=[], headers_enabled=False)
    app.extensions["api.limiter"] = limiter
    app.after_request(_headers)


@functools.lru_cache(maxsize=256)
def _parsed(rate: str) -> RateLimitItem:
    return parse(rate)


def _named(identity: tuple[str, ...]) -> tuple[str, ...]:
    """The counter's name in the store, under ``RATELIMIT_KEY_PREFIX``: two deployments sharing one Redis
    (or two test runs) never count each other's ``key:1``."""
    return (str(current_app.config["RATELIMIT_KEY_PREFIX"]), *identity)


def default_rate() -> str:
    return str(current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE)


def hit(rate: str, *identity: str) -> Window | None:
    """Count one request against ``rate`` for ``identity``; raises ``rate_limited`` when it is used up.

    One call to the store a request: a fixed window aligned to the clock (minute ``n`` of the epoch for
    ``600/minute``), whose counter is named after the window, so its reset time is known without
    asking the store. Every host counts the same window, their clocks being synchronised.
    """
    limiter: Limiter = current_app.extensions["api.limiter"]
    item = _parsed(rate)
    period = item.get_expiry()
    moment = time.time()
    start = int(moment // period) * period
    try:
        count = limiter.limiter.storage.incr(item.key_for(*_named(identity), start), period)
    except Exception:
        log.warning("rate limit store unreachable; request let through", exc_info=True)
        return None
    window = Window(item.amount, item.amount - count, start + period)
    g.rate_window = window
    if count > item.amount:
        wait = max(1, math.ceil(window.reset_at - moment))
        raise ApiProblem(
            "rate_limited",
            f"rate limit of {rate} exceeded; retry in {wait} s",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )
    return window


def refused_sign_in(address: str) -> bool:
    """Whether this address has used up its wrong passwords (looked at, not counted)."""
    limiter: Limiter = current_app.extensions["api.limiter"]
    try:
        reset_at, remaining = limiter.limiter.get_window_stats(_parsed(SIGN_IN_RATE), *_named(("sign-in", address)))
    except Exception:
        log.warning("rate limit store unreachable; sign-in throttle skipped", exc_info=True)
        return False
    return remaining <= 0 and reset_at > time.time()


def failed_sign_in(address: str) -> None:
    limiter: Limiter = current_app.extensions["api.limiter"]
    try:
        limiter.limiter.hit(_parsed(SIGN_IN_RATE), *_named(("sign-in", address)))
    except Exception:
        log.warning("rate limit store unreachable; failed sign-in not counted", exc_info=True)


def _headers(response: Response) -> Response:
    window: Window | None = g.get("rate_window")
    if window is not None:
        response.headers["X-RateLimit-Limit"] = str(window.limit)
        response.headers["X-RateLimit-Remaining"] = str(max(window.remaining, 0))
        response.headers["X-RateLimit-Reset"] = str(math.ceil(window.reset_at))
    return response
