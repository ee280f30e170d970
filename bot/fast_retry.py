"""The fast retries (about 1 s, 3 s and 10 s after a transient error, ``bot.retry``), woken in-process,
and the backlog made due at once when the Graph API answers again after an outage.

The scheduler's retry job runs every few seconds and is the safety net for every due row;
waiting for it would still add up to its period to each of the first tries. So the process
that recorded the failure keeps a timer: at the row's ``next_attempt_at`` it hands the
phone's unsent rows back to that phone's sender thread, which claims them as usual (the
claim is one conditional UPDATE, so a timer and the retry job never send a row twice). A
timer lost with its process costs nothing but speed: the row is queued and due in the
database, and the retry job takes it.

A process that has seen a transient failure and then a successful send knows the outage is
over: rows still waiting out a back-off are made due now, so the retry job sends them at its
next run instead of at the end of their wait. Rate limits are left to run out.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from flask import Flask
from sqlalchemy import select, true, update
from sqlalchemy.orm import Session

from bot import outbox, retry
from bot.models import OutboxMessage
from domain.clock import SystemClock
from domain.db import Database
from runtime import services

log = logging.getLogger(__name__)

Submit = Callable[[Iterable[outbox.Outgoing]], None]


class Waker(Protocol):
    def later(self, at: dt.datetime, wake: Callable[[], None]) -> None: ...


class RetryTimer:
    """One daemon thread per process, started on first use, calling each ``wake`` at its time."""

    def __init__(self, now: Callable[[], dt.datetime], *, thread: bool = True) -> None:
        self.now, self.thread = now, thread
        self._heap: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def later(self, at: dt.datetime, wake: Callable[[], None]) -> None:
        with self._changed:
            heapq.heappush(self._heap, (at, next(self._order), wake))
            if self._thread is None and self.thread:
                self._thread = threading.Thread(target=self._run, name="outbox-fast-retry", daemon=True)
                self._thread.start()
            self._changed.notify()

    def due(self) -> list[Callable[[], None]]:
        """Take every wake whose time has come (the thread's step; tests call it directly)."""
        with self._changed:
            now, found = self.now(), []
            while self._heap and self._heap[0][0] <= now:
                found.append(heapq.heappop(self._heap)[2])
            return found

    def _wait(self) -> None:
        with self._changed:
            if not self._heap:
                self._changed.wait()
                return
            left = (self._heap[0][0] - self.now()).total_seconds()
            if left > 0:
                self._changed.wait(min(left, 60.0))

    def _run(self) -> None:
        while True:
            self._wait()
            for wake in self.due():
                try:
                    wake()
                except Exception:  # the row stays queued and due: the scheduler's retry job takes it
                    log.exception("outbox: a fast retry could not be handed to the sender")


def retry_policy(app: Flask) -> retry.RetryPolicy:
    """The app's retry policy (``BOT_REPLY_STALE_MINUTES``); tests may put their own in ``app.extensions``."""
    found: retry.RetryPolicy | None = app.extensions.get("bot.retry_policy")
    if found is None:
        found = app.extensions.setdefault("bot.retry_policy", retry.policy_from(app.config))
    return found


def retry_timer(app: Flask) -> Waker | None:
    """A timer thread when the app runs on the system clock. A test's clock stands still, so there is
    none unless the test puts one in ``app.extensions["bot.retry_timer"]``; the retry job still
    takes the rows when the test moves the clock and runs it."""
    if "bot.retry_timer" not in app.extensions:
        real = isinstance(services.clock(app), SystemClock)
        app.extensions.setdefault("bot.retry_timer", RetryTimer(lambda: services.now(app)) if real else None)
    found: Waker | None = app.extensions["bot.retry_timer"]
    return found


class _Outage:
    """Whether this process saw a transient failure that no successful send has followed yet."""

    def __init__(self) -> None:
        self.lock, self.seen = threading.Lock(), False

    def after(self, outcome: Mapping[int, str]) -> bool:
        """Note ``outcome``; True once, when a send succeeded after failures."""
        results = set(outcome.values())
        with self.lock:
            over = self.seen and "sent" in results
            self.seen = "retry" in results or (self.seen and not over)
        return over


def retry_soon(app: Flask, outcome: Mapping[int, str], submit: Submit) -> None:
    """Rows of ``outcome`` just queued for a fast retry are handed to ``submit`` (the phone's sender
    thread) at their time, together with whatever else waits for the same phone; the first send
    that succeeds after an outage makes the backlog due. Never raises: the outcomes are recorded
    already, and the retry job takes every due row whatever happens here."""
    try:
        _retry_soon(app, outcome, submit)
    except Exception:
        log.exception("outbox: fast retries not armed; the retry job will take the rows")


def _retry_soon(app: Flask, outcome: Mapping[int, str], submit: Submit) -> None:
    outage: _Outage = app.extensions.get("bot.outage") or app.extensions.setdefault("bot.outage", _Outage())
    if outage.after(outcome):
        with services.database(app).unit_of_work() as session:
            hurried = hurry(session, services.now(app))
        if hurried:
            log.info("outbox: the Graph API answers again; %d waiting message(s) are due now", hurried)
    if "retry" not in outcome.values():
        return
    timer = retry_timer(app)
    if timer is None:
        return
    db = services.database(app)
    with db.unit_of_work() as session:
        due = due_soon(session, [i for i, result in outcome.items() if result == "retry"], retry_policy(app))

    def wake(phone: str) -> Callable[[], None]:
        def resubmit() -> None:
            with db.unit_of_work() as session:
                items = pending(session, phone)
            submit(items)

        return resubmit

    for phone, at in due:
        timer.later(at, wake(phone))


def due_soon(session: Session, ids: Sequence[int], policy: retry.RetryPolicy) -> list[tuple[str, dt.datetime]]:
    """(phone, when) for each phone whose row of ``ids`` is queued for a fast retry, the earliest per phone."""
    stmt = select(
        OutboxMessage.phone, OutboxMessage.attempts, OutboxMessage.error_code, OutboxMessage.next_attempt_at
    ).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "queued")
    soonest: dict[str, dt.datetime] = {}
    for phone, attempts, code, at in session.execute(stmt):
        if retry.in_process(attempts, code, policy):
            soonest[phone] = min(at, soonest.get(phone, at))
    return sorted(soonest.items(), key=lambda item: item[1])


def waiting_behind(
    db: Database, batch: Sequence[outbox.Outgoing], outcome: Mapping[int, str], now: dt.datetime
) -> list[int]:
    """A new message that could not go because an earlier one to the same phone is backing off
    means the customer is there, waiting: that phone's backed-off rows become due now, and the
    phone's unsent ids are returned to be tried again, in order. A phone whose row failed in this
    very batch keeps its back-off (else a failing row would be retried in a loop)."""
    failed_now = {i.phone for i in batch if outcome.get(i.id) in ("retry", "failed", "expired")}
    blocked = {i.phone for i in batch if i.lease_until is None and outcome.get(i.id, "skipped") == "skipped"}
    phones = sorted(blocked - failed_now)
    if not phones:
        return []
    with db.unit_of_work() as session:
        if not hurry(session, now, phones):
            return []
        return [row.id for phone in phones for row in outbox.pending_for(session, phone)]


def hurry(session: Session, now: dt.datetime, phones: Sequence[str] | None = None) -> int:
    """Rows backing off after a transient error (not a rate limit) become due now, all of them or
    those of ``phones``; returns how many."""
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.phone.in_(phones) if phones is not None else true(),
            OutboxMessage.status == "queued",
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.error.is_not(None),
            OutboxMessage.error_code.is_(None) | OutboxMessage.error_code.not_in(sorted(retry.THROTTLE_CODES)),
        )
        .values(next_attempt_at=now)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len(session.scalars(stmt).all())


def pending(session: Session, phone: str) -> list[outbox.Outgoing]:
    """The phone's unsent rows, oldest first, for the sender thread to claim."""
    rows = outbox.pending_for(session, phone)
    return [outbox.Outgoing(row.id, row.phone, outbox.message_of(row), None) for row in rows]
