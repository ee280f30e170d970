"""The campaign sender: a job the scheduler runs, sending due marketing messages at the shared pace.

The domain decides who and what (``domain.campaign_sending``: claims, re-checks, leases;
``domain.campaign_outcomes``: answers; ``domain.send_policy``: what an error code means);
this module only keeps time and talks to the Graph API through the bot's ``Sender``.

Each loop claims about a second's worth of messages and hands them to sender threads. A thread
takes the next free slot of the shared pace (``bot.pace``, reserved half a second at a time),
waits for it and for a turn in this process's second (a sliding window a little under the rate),
marks its row ``sending`` (committed), makes the one request and hands the answer to the loop,
which writes the answers of many messages in one transaction. Right before the request,
``Slots.gate`` lets it start only while fewer than the rate started in the last second, so
however the commits' delays fall, no second of one process carries more than the rate; the turns
leave it room, so it hardly ever waits there. A slot that a thread finds long past is dropped,
never used in a burst. Any number of senders run at once (threads, processes, hosts): the claim's
lease keeps them on different rows, the pace keeps them together under the rate.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bot import campaign_webhooks
from bot.messages import Template
from bot.pace import Pace, pace_for
from bot.sender import Sender, SendError, sender_for
from domain import campaign_outcomes, campaign_sending, campaign_settings, campaigns
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_sending import Delivery
from domain.campaign_settings import CampaignSettings
from domain.db import Database
from domain.send_policy import Decision, decide
from runtime import services

log = logging.getLogger(__name__)

BATCH_SECONDS = 1.0  # each claim takes this many seconds of sending at the rate
WATCH_EVERY = 0.2  # seconds between writing answers while sending
CHECK_EVERY = 1.0  # at most this often, and only after new failures, the failure rate is counted
# Slots are reserved this far under the configured rate, which covers senders on other hosts;
# within one process the turns and ``Slots.gate`` keep every second within the rate. Between a
# row's commit and its request nothing waits but the gate (almost never): a wait there is the
# window in which a crash leaves a member unsent (see docs/CAMPAIGNS.md). 2.5% under: two hosts' requests
# each leave some tens of ms after their slots, and over any few seconds they must still arrive within
# the rate (at 1.5% under, two hosts at 40/s put 121 requests in three seconds now and then).
RATE_MARGIN = 0.975
CHUNK_SECONDS = 0.5  # slots reserved from the shared pace at a time
HOLD_AGAIN = 1.0  # a throttled answer within this of the last hold's end does not hold again
WINDOW_SLACK = 0.01  # a window's second is this much longer (the request leaves a moment after)
LATE = 0.03  # a thread that woke this much after its slot takes another (see ``Slots.wait_for_one``)
STALE = 0.02  # a queued slot further past than this is dropped, never used late
NOT_SENT = ("network: ConnectError", "network: ConnectTimeout")  # the request never left this host


class Window:
    """Times of this process's last second, at most so many of them: a sliding window, not a fixed
    spacing (a thread that woke a little late does not make the next one late too)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.lock = threading.Lock()

    def enter(self, most: int) -> None:
        """Wait until fewer than ``most`` entered within the last second, then enter."""
        with self.lock:
            while len(self.times) > most:
                self.times.popleft()
            while len(self.times) >= most:
                _sleep_until(self.times[len(self.times) - most] + 1.0 + WINDOW_SLACK)
                now = time.time()
                while self.times and self.times[0] <= now - 1.0 - WINDOW_SLACK:
                    self.times.popleft()
            self.times.append(time.time())


def early_cap(ceiling: float) -> int:
    """Turns a second before the commits: a fortieth of the rate (at least one) under it."""
    most = max(1, int(ceiling))
    return max(1, most - max(1, most // 40))


class Slots:
    """This process's share of the shared pace: slots reserved a chunk at a time, taken in order."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.queue: deque[float] = deque()
        self.lock = threading.Lock()
        self.held_until = 0.0
        self.turns = Window()  # turns taken before the commits
        self.started = Window()  # requests started, after them

    def take(self, rate: float) -> float:
        with self.lock:
            now = time.time()
            while self.queue and self.queue[0] < now - STALE:
                self.queue.popleft()
            if not self.queue:
                count = max(1, int(rate * CHUNK_SECONDS))
                first = self.pace.reserve(count, rate)
                self.queue.extend(first + i / rate for i in range(count))
            return self.queue.popleft()

    def wait_for_one(self, rate: float, ceiling: float) -> None:
        """Take a slot, sleep until it, then take a turn in this process's second (``turns``).

        A thread that wakes more than ``LATE`` after its slot (the interpreter or the machine was
        busy) takes a fresh one. The turns keep a few places of the ``ceiling`` free (``early_cap``):
        the commit that follows delays each request a little differently, and ``gate`` after it
        should find room, not wait (a wait after the commit is the window in which a crash leaves
        a member unsent)."""
        while True:
            slot = self.take(rate)
            _sleep_until(slot)
            if time.time() - slot <= LATE:
                break
        self.turns.enter(early_cap(ceiling))

    def gate(self, ceiling: float) -> None:
        """Let a request start once fewer than ``ceiling`` of this process's requests started in the
        last second: however the commits' delays fell, no second carries more than the rate."""
        self.started.enter(max(1, int(ceiling)))

    def hold(self, seconds: float) -> None:
        """Meta said slow down: everyone's next slot moves out, and ours before then are dropped.

        Answers of a burst arrive together: one hold covers them all (a hold per answer, each
        throwing away the slots reserved after the last, would stall sending for seconds each)."""
        with self.lock:
            until = time.time() + seconds
            if until - self.held_until > HOLD_AGAIN:
                self.pace.hold(seconds)
                self.held_until = until
            while self.queue and self.queue[0] < self.held_until:
                self.queue.popleft()


class CampaignSender:
    def __init__(self, app: Flask, *, owner: str | None = None, threads: int | None = None) -> None:
        self.app = app
        self.db: Database = services.database(app)
        self.sender: Sender = sender_for(app)
        self.slots = Slots(pace_for(app))
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.threads = threads
        self.defaults = campaign_settings.defaults_from(app.config)
        self.answers: deque[tuple[Delivery, str | None, SendError | None]] = deque()
        self.rate = self.ceiling = 1.0
        self.failures_since_check, self.checked_at = 0, 0.0

    def now(self) -> dt.datetime:
        return services.now(self.app)

    def settings(self) -> CampaignSettings:
        with self.db.unit_of_work() as session:
            return campaign_settings.load(session, self.defaults)

    def run(self, *, wait_for_retries: dt.timedelta = dt.timedelta(0), deadline: float | None = None) -> Counter[str]:
        """Send until nothing is due; with ``wait_for_retries``, also wait for retries due within it."""
        results: Counter[str] = Counter()
        settings = self.settings()
        # Enough for the rate at a quarter-second round trip, and no more: every extra thread
        # competes for the interpreter between a row's commit and its request.
        workers = self.threads or max(8, min(32, settings.rate_per_second // 2))
        in_flight: deque[Future[str]] = deque()
        self._take_over_the_dead()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="campaign-send") as pool:
            while deadline is None or time.monotonic() < deadline:
                settings = self.settings()
                self.rate, self.ceiling = settings.rate_per_second * RATE_MARGIN, float(settings.rate_per_second)
                batch = self._claim(settings, results)
                if not batch:
                    self._drain(in_flight, results, settings)
                    pause = self._next_due_in(wait_for_retries)
                    if pause is None:
                        break
                    time.sleep(pause)
                    continue
                in_flight.extend(pool.submit(self._send_one, delivery) for delivery in batch)
                # Claim again while about a second of this batch is still to go: the threads never
                # run dry (a slot that passes with no thread for it is lost to the rate).
                self._watch(in_flight, results, settings, until_left=max(1, int(self.rate * 1.0)))
            self._drain(in_flight, results, settings)
        self._upkeep()
        return results

    def _take_over_the_dead(self) -> None:
        """Senders of this host that died (kill -9) hand their claims back now, not when the lease runs out."""
        host = self.owner.split(":", 1)[0]
        with self.db.unit_of_work() as session:
            dead = [o for o in campaign_sending.lease_owners(session, self.now()) if _dead_here(o, host)]
            if dead:
                campaign_sending.expire_leases(session, dead, self.now())
                log.warning("campaign sending: took over the claims of %d stopped sender(s) on this host", len(dead))

    def _claim(self, settings: CampaignSettings, results: Counter[str]) -> list[Delivery]:
        limit = max(10, int(settings.rate_per_second * BATCH_SECONDS))
        with self.db.unit_of_work() as session:
            now = self.now()
            campaigns.start_due(session, now, settings)
            campaign_outcomes.reconcile(session, now)
            campaigns.check_failures(session, now, settings)
            batch, skipped = campaign_sending.claim(session, now, settings, self.owner, limit)
        results.update({f"skipped:{reason}": n for reason, n in skipped.items()})
        return batch

    def _watch(
        self, in_flight: deque[Future[str]], results: Counter[str], settings: CampaignSettings, until_left: int
    ) -> None:
        """Write answers as they come and check the failure rate, until few sends are left to start.

        A campaign that pauses stops at once: each send first checks that its campaign is still sending.
        """
        while sum(not f.done() for f in in_flight) > until_left:
            time.sleep(WATCH_EVERY)
            self._record(settings)
            _collect(in_flight, results, wait=False)

    def _drain(self, in_flight: deque[Future[str]], results: Counter[str], settings: CampaignSettings) -> None:
        self._watch(in_flight, results, settings, until_left=0)
        self._record(settings)
        _collect(in_flight, results, wait=True)

    def _record(self, settings: CampaignSettings) -> None:
        """The answers received so far, in one transaction (a crash before it: ``reconcile`` settles them)."""
        if not self.answers:
            return
        taken = [self.answers.popleft() for _ in range(len(self.answers))]
        sent = [(delivery, wamid or "") for delivery, wamid, error in taken if error is None]
        with self.db.unit_of_work() as session:
            now = self.now()
            campaign_outcomes.record_sent_many(session, sent, now)
            for delivery, _, error in taken:
                if error is not None:
                    decision = self._decision(delivery, error, now)
                    campaign_outcomes.record_error(session, delivery, decision, error.code, error.reason, now)
                    self.failures_since_check += decision.outcome == "failed"
            campaign_webhooks.apply_early(
                session, now, [wamid for _, wamid in sent]
            )  # reports that overtook these answers
            if self.failures_since_check and time.monotonic() - self.checked_at >= CHECK_EVERY:
                campaigns.check_failures(session, now, settings)
                self.failures_since_check, self.checked_at = 0, time.monotonic()

    def _upkeep(self) -> None:
        with self.db.unit_of_work() as session:
            campaigns.finish_done(session, self.now())

    def _next_due_in(self, horizon: dt.timedelta) -> float | None:
        """Seconds until the next retry of a sending campaign, if it is within ``horizon``."""
        if horizon <= dt.timedelta(0):
            return None
        with self.db.unit_of_work() as session:
            now = self.now()
            r = CampaignRecipient
            due_recipient = session.scalar(
                select(func.min(r.next_attempt_at))
                .join(MessageCampaign, MessageCampaign.id == r.campaign_id)
                .where(MessageCampaign.status == "sending", r.status.in_(("pending", "sending")))
            )
            due_message = session.scalar(
                select(func.min(MarketingMessage.next_attempt_at)).where(MarketingMessage.status == "pending")
            )
        due = min((d for d in (due_recipient, due_message) if d is not None), default=None)
        if due is None or due - now > horizon:
            return None
        return min(max((due - now).total_seconds(), 0.2), 5.0)

    def _send_one(self, delivery: Delivery) -> str:
        message = Template(delivery.template, delivery.language, delivery.parameters, extra={"tracker": delivery.key})
        # Wait for a slot of the shared pace before the row is marked ``sending``: a crash while
        # waiting leaves the member to be sent, never counted as sent.
        self.slots.wait_for_one(self.rate, self.ceiling)
        with self.db.unit_of_work() as session:
            if not campaign_outcomes.begin_send(session, delivery, self.owner, self.now()):
                campaign_outcomes.release(session, delivery, self.owner)
                return "skipped:not_ours"
        self.slots.gate(self.ceiling)
        try:
            wamid = self.sender.send(delivery.phone, message)
        except SendError as exc:
            return self._answer(delivery, None, exc)
        except Exception as exc:  # the message could not even be built: no request went out
            log.exception("campaign message %s could not be sent", delivery.key)
            return self._answer(delivery, None, SendError(type(exc).__name__, code="internal", transient=False))
        return self._answer(delivery, wamid, None)

    def _answer(self, delivery: Delivery, wamid: str | None, error: SendError | None) -> str:
        self.answers.append((delivery, wamid, error))
        if error is None:
            return "sent"
        decision = self._decision(delivery, error, self.now())
        if decision.slow_down:
            self.slots.hold(decision.slow_down)
        if decision.outcome == "failed":
            log.warning("campaign message %s failed for good (%s)", delivery.key, error.code)
            return f"failed:{error.code}"
        return "sent" if decision.outcome == "unconfirmed" else decision.outcome

    @staticmethod
    def _decision(delivery: Delivery, error: SendError, now: dt.datetime) -> Decision:
        maybe_delivered = error.code is None and error.reason.startswith("network:") and error.reason not in NOT_SENT
        return decide(
            error.code,
            transient=error.transient,
            maybe_delivered=maybe_delivered,
            attempts=delivery.attempts + 1,
            now=now,
        )


def _dead_here(owner: str, host: str) -> bool:
    """``owner`` is ``host:pid:token``; on this host, is that process gone?"""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _sleep_until(at: float) -> None:
    delay = at - time.time()
    if delay > 0:
        time.sleep(delay)


def _collect(in_flight: deque[Future[str]], results: Counter[str], *, wait: bool) -> None:
    while in_flight and (wait or in_flight[0].done()):
        try:
            results[in_flight.popleft().result()] += 1
        except Exception:
            # The database failed around a send: the row keeps its lease or ``sending`` state, and
            # ``reconcile`` or the next claim settles it; the other messages go on.
            log.exception("a campaign send could not be recorded")
            results["error"] += 1


def send_campaigns(app: Flask) -> Counter[str]:
    """The scheduler's job: send what is due now (retries come at the next run)."""
    results = CampaignSender(app).run()
    if results:
        log.info("campaign sending: %s", dict(results))
    return results


def send_until_done(app: Flask, **kwargs: Any) -> Counter[str]:
    """For ``flask campaigns send``: keep going while retries are due within 15 minutes."""
    return CampaignSender(app).run(wait_for_retries=dt.timedelta(minutes=15), **kwargs)
