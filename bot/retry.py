"""When to try a message again after the Graph API refused it for now, and when to stop trying.

Pure rules of (attempts so far, Meta's error code, the row's kind and age, a jitter source),
so the schedule is tested with a fake clock and a fixed jitter.

- **Fast first.** The first three retries come after about 1 s, 3 s and 10 s, inside the process
  that just tried (``bot.fast_retry`` wakes it), so a reply reaches the customer within seconds
  of a short outage ending.
- **Then back off.** Later retries are the scheduler's outbox job: 15 s, 30 s, 1 min ... capped at
  10 min, so after four failed tries the fifth comes about 30 s after the first. Meta's throttling
  codes (130429 throughput, 131056 pair rate limit, ...) skip the fast steps and start at 30 s:
  trying again at once only prolongs a rate limit.
- **Jitter.** Every delay is spread by ±20 % so that after an outage the backlog does not come
  back at the same instant.
- **Per kind.** A chat reply (``origin`` ``bot``, and the points-payment code a till is waiting
  for, ``api``) answers what the customer just wrote: older than ``BOT_REPLY_STALE_MINUTES``
  (default 5) it would only confuse, so it is never sent and ends ``expired`` with error code
  ``stale``. Notices (``notification``: points earned, voucher issued ...), staff replies and
  anything else stay true for longer: they keep backing off for 24 hours, then end ``failed``.
- **Final codes.** 131047 (the 24-hour window is closed) and 131026 (not a WhatsApp user) are never
  retried, whatever else the answer says.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FAST_STEPS = (dt.timedelta(seconds=1), dt.timedelta(seconds=3), dt.timedelta(seconds=10))
BACKOFF_BASE = dt.timedelta(seconds=15)
THROTTLE_BASE = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(minutes=10)
JITTER = 0.2  # each delay is spread over ±20 %
CHAT_STALE_AFTER = dt.timedelta(minutes=5)
GIVE_UP_AFTER = dt.timedelta(hours=24)  # the customer-service window is closed by then anyway

CHAT_ORIGINS = frozenset({"bot", "api"})  # replies to what someone is doing right now
FINAL_CODES = frozenset({"131047", "131026"})
THROTTLE_CODES = frozenset({"4", "17", "32", "613", "80007", "130429", "131048", "131056"})
STALE = "stale"  # the error code of a chat reply given up on because it would arrive too late


@dataclass(frozen=True)
class RetryPolicy:
    fast: tuple[dt.timedelta, ...] = FAST_STEPS
    base: dt.timedelta = BACKOFF_BASE
    throttle_base: dt.timedelta = THROTTLE_BASE
    cap: dt.timedelta = BACKOFF_MAX
    jitter: float = JITTER
    chat_stale_after: dt.timedelta = CHAT_STALE_AFTER
    give_up_after: dt.timedelta = GIVE_UP_AFTER
    rand: Callable[[], float] = field(default=random.random, compare=False)  # uniform in [0, 1)


DEFAULT = RetryPolicy()


def policy_from(config: Mapping[str, Any]) -> RetryPolicy:
    """``BOT_REPLY_STALE_MINUTES`` from the settings; everything else is the documented default."""
    raw = config.get("BOT_REPLY_STALE_MINUTES")
    minutes = CHAT_STALE_AFTER.total_seconds() / 60 if raw in (None, "") else float(raw)
    return RetryPolicy(chat_stale_after=dt.timedelta(minutes=max(minutes, 0.0)))


def is_final(code: str | None) -> bool:
    return code in FINAL_CODES


def is_throttled(code: str | None) -> bool:
    return code in THROTTLE_CODES


def in_process(attempts: int, code: str | None, policy: RetryPolicy = DEFAULT) -> bool:
    """Is the next try one of the fast ones, woken in-process rather than by the scheduler?"""
    return not is_throttled(code) and 1 <= attempts <= len(policy.fast)


def base_delay(attempts: int, code: str | None, policy: RetryPolicy = DEFAULT) -> dt.timedelta:
    """The wait before the next try, before jitter, after ``attempts`` tries have failed."""
    if in_process(attempts, code, policy):
        return policy.fast[attempts - 1]
    if is_throttled(code):
        base, slow_step = policy.throttle_base, attempts - 1
    else:
        base, slow_step = policy.base, attempts - len(policy.fast) - 1
    delay: dt.timedelta = min(base * (2 ** max(slow_step, 0)), policy.cap)
    return delay


def next_delay(attempts: int, code: str | None, policy: RetryPolicy = DEFAULT) -> dt.timedelta:
    """``base_delay`` spread by the policy's jitter."""
    spread = policy.jitter * (2 * policy.rand() - 1)
    return base_delay(attempts, code, policy) * (1 + spread)


def is_chat(origin: str) -> bool:
    return origin in CHAT_ORIGINS


def deadline(origin: str, created_at: dt.datetime, policy: RetryPolicy = DEFAULT) -> dt.datetime:
    """After this moment the message is not sent any more."""
    return created_at + (policy.chat_stale_after if is_chat(origin) else policy.give_up_after)


def stale_before(now: dt.datetime, policy: RetryPolicy = DEFAULT) -> dt.datetime:
    """Chat replies created before this are stale now."""
    return now - policy.chat_stale_after
