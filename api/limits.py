"""Rate limits per API key (or signed-in person), shared by every worker and host through one store.

``RATELIMIT_STORAGE_URI`` names the store: ``memory://`` by default (this process's own counters, for
development) and ``redis://...`` in production, where all workers and hosts count together (the
``limits`` library, which Flask-Limiter is built on, speaks to Redis and the other stores). The limit
is the key's own rate, or ``API_RATE_LIMIT`` (default ``600/minute``), counted after authentication,
so a caller is identified by who they are, not by their address.

Each request is one call to the store: windows are fixed and aligned to the clock (minute ``n`` of the
epoch for ``600/minute``), and a counter is named after its window, so its reset time is known without
asking. A store that cannot be reached lets requests through (logged) rather than taking the API down.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol, cast

from flask import Flask, Response, current_app, g
from limits import RateLimitItem, parse
from limits.storage import storage_from_string

from api.errors import ApiProblem

log = logging.getLogger(__name__)
DEFAULT_RATE = "600/minute"
# Wrong passwords per client address before the token endpoint stops answering for a while.
SIGN_IN_RATE = "30 per 15 minutes"


class Counters(Protocol):
    def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    def get(self, key: str) -> int: ...


class LocalCounters:
    """``memory://``: counters of this process, thread-safe, without a timer thread per request (the one
    ``limits``' memory store starts, and races starting under gunicorn's threads)."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        moment = time.time()
        with self._lock:
            if len(self._counts) >= self.MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > moment}
            expires, count = self._counts.get(key, (0.0, 0))
            if expires <= moment:
                expires, count = moment + expiry, 0
            self._counts[key] = (expires, count + amount)
            return count + amount

    def get(self, key: str) -> int:
        expires, count = self._counts.get(key, (0.0, 0))
        return count if expires > time.time() else 0


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset_at: float


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "loyalty")
    uri = str(app.config["RATELIMIT_STORAGE_URI"] or "memory://")
    store = LocalCounters() if uri.startswith("memory://") else cast(Counters, storage_from_string(uri))
    app.extensions["api.counters"] = store
    app.after_request(_headers)


@functools.lru_cache(maxsize=256)
def _parsed(rate: str) -> RateLimitItem:
    return parse(rate)


def default_rate() -> str:
    return str(current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE)


def _window(rate: str, identity: tuple[str, ...], moment: float) -> tuple[RateLimitItem, str, float]:
    """The limit, its counter's name in the store for the window around ``moment``, and when it resets.

    Under ``RATELIMIT_KEY_PREFIX``, so two deployments sharing one Redis (or two test runs) never count
    each other's ``key:1``.
    """
    item = _parsed(rate)
    period = item.get_expiry()
    start = int(moment // period) * period
    return item, _name(item, *identity, start), float(start + period)


def _name(item: RateLimitItem, *parts: str | int) -> str:
    return item.key_for(str(current_app.config["RATELIMIT_KEY_PREFIX"]), *parts)


def _since_first(rate: str, address: str) -> tuple[RateLimitItem, str]:
    """The sign-in throttle's counter: its window starts at the first wrong password, not on the clock."""
    item = _parsed(rate)
    return item, _name(item, "sign-in", address)


def _store() -> Counters:
    store: Counters = current_app.extensions["api.counters"]
    return store


def hit(rate: str, *identity: str) -> Window | None:
    """Count one request against ``rate`` for ``identity``; raises ``rate_limited`` when it is used up."""
    moment = time.time()
    item, name, reset_at = _window(rate, identity, moment)
    try:
        count = _store().incr(name, item.get_expiry())
    except Exception:
        log.warning("rate limit store unreachable; request let through", exc_info=True)
        return None
    window = Window(item.amount, item.amount - count, reset_at)
    g.rate_window = window
    if count > item.amount:
        wait = max(1, math.ceil(reset_at - moment))
        raise ApiProblem(
            "rate_limited",
            f"rate limit of {rate} exceeded; retry in {wait} s",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )
    return window


def refused_sign_in(address: str) -> bool:
    """Whether this address has used up its wrong passwords (looked at, not counted)."""
    item, name = _since_first(SIGN_IN_RATE, address)
    try:
        return _store().get(name) >= item.amount
    except Exception:
        log.warning("rate limit store unreachable; sign-in throttle skipped", exc_info=True)
        return False


def failed_sign_in(address: str) -> None:
    item, name = _since_first(SIGN_IN_RATE, address)
    try:
        _store().incr(name, item.get_expiry())
    except Exception:
        log.warning("rate limit store unreachable; failed sign-in not counted", exc_info=True)


def _headers(response: Response) -> Response:
    window: Window | None = g.get("rate_window")
    if window is not None:
        response.headers["X-RateLimit-Limit"] = str(window.limit)
        response.headers["X-RateLimit-Remaining"] = str(max(window.remaining, 0))
        response.headers["X-RateLimit-Reset"] = str(math.ceil(window.reset_at))
    return response
