"""What to do when the Graph API refuses a marketing message, by its error code. Pure: no database.

- 130429 (the number's throughput) and 131056 (too many messages to one member): back off and
  try again, slower each time; the throughput limit also slows the shared pace for everyone.
- 131049 (Meta's own per-member marketing cap): wait a day, once; a second refusal is final.
- 131026 (undeliverable) and 131047 (re-engagement): final for this campaign, counted apart;
  131026 also leaves the number out of marketing for a while.
- 132xxx (the template is missing, paused, disabled, or its parameters are wrong): final, and the
  campaign pauses with the reason, since every other message would fail the same way.
- Any other error worth retrying (5xx, network) is retried with back-off ``MAX_ATTEMPTS`` times.
- A request that may have reached the Graph API without us hearing the answer (a read timeout)
  is never sent again: it counts as sent, unconfirmed (at most once; see docs/CAMPAIGNS.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

THROUGHPUT = "130429"
PAIR_RATE = "131056"
META_MARKETING_CAP = "131049"
UNDELIVERABLE = "131026"
RE_ENGAGEMENT = "131047"
FINAL_COUNTED_APART = (UNDELIVERABLE, RE_ENGAGEMENT)
TEMPLATE_CODES = ("132000", "132001", "132005", "132007", "132012", "132015", "132016", "132068", "132069")
MAX_ATTEMPTS = 6
MAX_THROTTLED = 20  # throttling is Meta asking us to slow down, not a fault of the message
BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_MAX = dt.timedelta(minutes=10)
THROUGHPUT_PAUSE_SECONDS = 2.0  # the shared pace stops this long after a 130429


@dataclass(frozen=True)
class Decision:
    outcome: str  # retry | failed | unconfirmed
    retry_at: dt.datetime | None = None
    undeliverable: bool = False
    pause_reason: str | None = None  # pause the campaign
    slow_down: float = 0.0  # seconds the shared pace waits


def backoff(attempts: int, base: dt.timedelta = BACKOFF_BASE) -> dt.timedelta:
    """5 s, 10 s, 20 s ... at most 10 minutes."""
    factor: int = 2 ** max(attempts - 1, 0)
    return min(base * factor, BACKOFF_MAX)


def decide(
    code: str | None, *, transient: bool, maybe_delivered: bool, attempts: int, now: dt.datetime, member_gap: int = 6
) -> Decision:
    """``attempts`` counts this one. ``maybe_delivered``: the request may have reached Meta (no answer)."""
    if maybe_delivered:
        return Decision("unconfirmed")
    if code == THROUGHPUT:
        if attempts >= MAX_THROTTLED:
            return Decision("failed")
        return Decision("retry", now + backoff(attempts), slow_down=THROUGHPUT_PAUSE_SECONDS)
    if code == PAIR_RATE:
        if attempts >= MAX_THROTTLED:
            return Decision("failed")
        return Decision("retry", now + backoff(attempts, dt.timedelta(seconds=max(member_gap, 1))))
    if code == META_MARKETING_CAP:
        return Decision("failed") if attempts >= 2 else Decision("retry", now + dt.timedelta(days=1))
    if code == UNDELIVERABLE:
        return Decision("failed", undeliverable=True)
    if code == RE_ENGAGEMENT:
        return Decision("failed")
    if code in TEMPLATE_CODES:
        return Decision("failed", pause_reason=f"the template was refused by WhatsApp (error {code})")
    if transient and attempts < MAX_ATTEMPTS:
        return Decision("retry", now + backoff(attempts))
    return Decision("failed")


def failure_rate_reason(failed: int, finished: int, percent: int, minimum: int) -> str | None:
    """The pause reason once ``failed`` of ``finished`` sends crosses the threshold, else None."""
    if finished < minimum or failed * 100 < percent * finished:
        return None
    return f"failure rate {failed * 100 // finished}% ({failed} of {finished} sends failed; threshold {percent}%)"
