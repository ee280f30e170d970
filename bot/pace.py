"""One send pace for the WhatsApp number, shared by every thread, process and host.

The pace is a single number: the next free send slot (seconds since the epoch). ``reserve(n, rate)``
takes ``n`` consecutive slots ``1/rate`` apart in one atomic step and says when the first one is;
the caller sends message ``i`` at ``first + i / rate``, never earlier. Whoever reserves next gets
the slots after those, so the number never goes faster than ``rate`` however many senders run.
``hold(seconds)`` moves the next slot out (Meta said 130429: slow down), for everyone.

Redis (``REDIS_URL``, or ``RATELIMIT_STORAGE_URI`` when it is ``redis://``) keeps the slot in one
key, updated by a Lua script with Redis's own clock; without Redis the ``send_paces`` table does
the same with one upsert per reservation (wall clocks of hosts must agree, as NTP keeps them).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import redis
from flask import Flask
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite

from domain.campaign_models import SendPace
from domain.db import Database
from runtime import services

KEY = "whatsapp:marketing"
TTL_SECONDS = 3600


class Pace(Protocol):
    def reserve(self, count: int, rate: float) -> float:
        """Reserve ``count`` slots; returns the local ``time.time()`` of the first."""

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` from now."""


_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = math.max(now, nxt)
redis.call('SET', KEYS[1], string.format('%.6f', first + tonumber(ARGV[1])), 'EX', tonumber(ARGV[2]))
return {string.format('%.6f', first), string.format('%.6f', now)}
"""
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], string.format('%.6f', math.max(nxt, now + tonumber(ARGV[1]))), 'EX', tonumber(ARGV[2]))
return 1
"""


class RedisPace:
    def __init__(self, url: str, key: str = KEY) -> None:
        self.client: Any = redis.Redis.from_url(url)
        self.key = key
        self._reserve = self.client.register_script(_RESERVE)
        self._hold = self.client.register_script(_HOLD)

    def reserve(self, count: int, rate: float) -> float:
        first, server_now = (float(v) for v in self._reserve(keys=[self.key], args=[count / rate, TTL_SECONDS]))
        return time.time() + (first - server_now)  # Redis's clock, read in ours

    def hold(self, seconds: float) -> None:
        self._hold(keys=[self.key], args=[seconds, TTL_SECONDS])


class DatabasePace:
    def __init__(self, db: Database, key: str = KEY) -> None:
        self.db, self.key = db, key

    def reserve(self, count: int, rate: float) -> float:
        span, now = count / rate, time.time()
        return self._upsert(now + span, self._larger(SendPace.next_at, now) + span) - span

    def hold(self, seconds: float) -> None:
        later = time.time() + seconds
        self._upsert(later, self._larger(SendPace.next_at, later))

    def _larger(self, *values: Any) -> Any:
        return (func.greatest if self.db.is_postgresql else func.max)(*values)

    def _upsert(self, first: float, then: Any) -> float:
        """One statement: the row is created with ``first`` or updated to ``then``; returns the new value."""
        make = postgresql.insert if self.db.is_postgresql else sqlite.insert
        upsert = make(SendPace).values(key=self.key, next_at=first)
        stmt = upsert.on_conflict_do_update(index_elements=[SendPace.key], set_={"next_at": then})
        with self.db.engine.begin() as conn:
            return float(conn.execute(stmt.returning(SendPace.next_at)).scalar_one())


def redis_url(config: Any) -> str | None:
    url = config.get("REDIS_URL") or config.get("RATELIMIT_STORAGE_URI")
    return str(url) if url and str(url).startswith(("redis://", "rediss://", "unix://")) else None


def pace_for(app: Flask) -> Pace:
    """The app's shared pace, built on first use (tests may put their own in ``app.extensions``)."""
    found: Pace | None = app.extensions.get("bot.pace")
    if found is None:
        url = redis_url(app.config)
        made: Pace = RedisPace(url) if url else DatabasePace(services.database(app))
        found = app.extensions.setdefault("bot.pace", made)
    return found
