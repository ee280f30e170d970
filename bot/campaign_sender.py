"""The campaign sender: a job the scheduler runs, sending due marketing messages at the shared pace.

The domain decides who and what (``domain.campaign_sending``: claims, re-checks, leases;
``domain.campaign_outcomes``: answers; ``domain.send_policy``: what an error code means);
this module only keeps time and talks to the Graph API through the bot's ``Sender``.

Each loop claims about two seconds' worth of messages, reserves as many slots of the shared
pace (``bot.pace``) and hands each message to a thread that waits for its slot, marks the row
``sending`` (committed), makes the one request and records the answer. The next batch is
claimed before this one's slots run out, so the pace never idles between batches. Any number of
these run at once (threads, processes, hosts): the claim's lease keeps them on different rows,
the pace keeps them together under the rate.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bot.messages import Template
from bot.pace import Pace, pace_for
from bot.sender import Sender, SendError, sender_for
from domain import campaign_outcomes, campaign_sending, campaign_settings, campaigns
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.campaign_sending import Delivery
from domain.campaign_settings import CampaignSettings
from domain.db import Database
from domain.send_policy import decide
from runtime import services

log = logging.getLogger(__name__)

BATCH_SECONDS = 2.0  # each claim takes this many seconds of sending at the rate
WATCH_EVERY = 0.5  # seconds between failure-rate checks while a batch is sent
LOOKAHEAD = 0.5  # claim the next batch this long before the current one's slots run out
# Under the configured rate by this much, so that a late thread (scheduling jitter) never puts
# more than the rate into any one second.
RATE_MARGIN = 0.97
NOT_SENT = ("network: ConnectError", "network: ConnectTimeout")  # the request never left this host


class CampaignSender:
    def __init__(self, app: Flask, *, owner: str | None = None, threads: int | None = None) -> None:
        self.app = app
        self.db: Database = services.database(app)
        self.sender: Sender = sender_for(app)
        self.pace: Pace = pace_for(app)
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.threads = threads
        self.defaults = campaign_settings.defaults_from(app.config)

    def now(self) -> dt.datetime:
        return services.now(self.app)

    def settings(self) -> CampaignSettings:
        with self.db.unit_of_work() as session:
            return campaign_settings.load(session, self.defaults)

    def run(self, *, wait_for_retries: dt.timedelta = dt.timedelta(0), deadline: float | None = None) -> Counter[str]:
        """Send until nothing is due; with ``wait_for_retries``, also wait for retries due within it."""
        results: Counter[str] = Counter()
        settings = self.settings()
        workers = self.threads or max(16, min(64, settings.rate_per_second))
        in_flight: deque[Future[str]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="campaign-send") as pool:
            while deadline is None or time.monotonic() < deadline:
                settings = self.settings()
                batch = self._claim(settings, results)
                if not batch:
                    _collect(in_flight, results, wait=True)
                    pause = self._next_due_in(wait_for_retries)
                    if pause is None:
                        break
                    time.sleep(pause)
                    continue
                rate = settings.rate_per_second * RATE_MARGIN
                first = self.pace.reserve(len(batch), rate)
                for i, delivery in enumerate(batch):
                    in_flight.append(pool.submit(self._send_one, delivery, first + i / rate))
                self._watch_until(first + len(batch) / rate - LOOKAHEAD, settings)
                _collect(in_flight, results, wait=False)
            _collect(in_flight, results, wait=True)
        self._upkeep()
        return results

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

    def _watch_until(self, at: float, settings: CampaignSettings) -> None:
        """Wait for the batch's slots, checking the failure rate meanwhile: a campaign that pauses
        stops at once, since each send first checks that its campaign is still sending."""
        while time.time() < at:
            _sleep_until(min(at, time.time() + WATCH_EVERY))
            with self.db.unit_of_work() as session:
                campaigns.check_failures(session, self.now(), settings)

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

    def _send_one(self, delivery: Delivery, at: float) -> str:
        _sleep_until(at)
        with self.db.unit_of_work() as session:
            if not campaign_outcomes.begin_send(session, delivery, self.owner, self.now()):
                campaign_outcomes.release(session, delivery, self.owner)
                return "skipped:not_ours"
        message = Template(delivery.template, delivery.language, delivery.parameters, extra={"tracker": delivery.key})
        try:
            wamid = self.sender.send(delivery.phone, message)
        except SendError as exc:
            return self._failed(delivery, exc)
        except Exception as exc:  # the message could not even be built: no request went out
            log.exception("campaign message %s could not be sent", delivery.key)
            return self._failed(delivery, SendError(f"{type(exc).__name__}", code="internal", transient=False))
        with self.db.unit_of_work() as session:
            campaign_outcomes.record_sent(session, delivery, wamid, self.now())
        return "sent"

    def _failed(self, delivery: Delivery, exc: SendError) -> str:
        maybe_delivered = exc.code is None and exc.reason.startswith("network:") and exc.reason not in NOT_SENT
        now = self.now()
        decision = decide(
            exc.code, transient=exc.transient, maybe_delivered=maybe_delivered, attempts=delivery.attempts + 1, now=now
        )
        if decision.slow_down:
            self.pace.hold(decision.slow_down)
        with self.db.unit_of_work() as session:
            outcome = campaign_outcomes.record_error(session, delivery, decision, exc.code, exc.reason, now)
        if outcome == "failed":
            log.warning("campaign message %s failed for good (%s)", delivery.key, exc.code)
        return outcome if outcome != "failed" else f"failed:{exc.code}"


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
