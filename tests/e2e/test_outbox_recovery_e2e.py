"""A short Graph API outage over real HTTP: the reply arrives soon after the API recovers, not ~160 s later,
and a chat reply that could only arrive late is not sent at all.

The app runs on a frozen clock; the fast-retry timer here moves that clock to each row's
``next_attempt_at`` and wakes the sender at once, as the real timer does after 1, 3 and 10 s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot import fast_retry, jobs, retry
from bot.models import OutboxMessage
from domain.clock import SystemClock
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import RE_ENGAGEMENT, FakeGraphAPI
from tests.fakes import FrozenClock


class ClockTimer:
    """The fast-retry timer on a test's clock: no waiting, the clock jumps to the row's time."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.wakes: list[dt.datetime] = []

    def later(self, at: dt.datetime, wake: Callable[[], None]) -> None:
        self.wakes.append(at)
        self.clock.set(max(self.clock.now(), at))
        wake()


@pytest.fixture
def timer(live_app: LiveApp, clock: FrozenClock) -> ClockTimer:
    fake = ClockTimer(clock)
    live_app.app.extensions["bot.retry_timer"] = fake
    return fake


def rows(live: LiveApp) -> list[OutboxMessage]:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_three_failures_are_retried_in_process_without_the_scheduler(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, timer: ClockTimer
) -> None:
    graph_api.fail(500, times=3)
    replies = whatsapp.say("hi")  # the sender's own fast retries; no retry job runs in this test
    assert replies and [r.status for r in graph_api.requests[:3]] == [500, 500, 500]
    first = rows(live_app)[0]
    assert (first.status, first.attempts) == ("sent", 4)
    assert len(timer.wakes) == 3
    assert first.sent_at is not None and first.sent_at - first.created_at < dt.timedelta(seconds=17)


def test_after_four_failures_the_reply_is_due_within_a_minute(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, clock: FrozenClock, timer: ClockTimer
) -> None:
    graph_api.fail(500, times=4)
    assert whatsapp.say("hi") == []  # four tries failed: the first try and three fast retries
    first = rows(live_app)[0]
    assert (first.status, first.attempts, first.error_code) == ("queued", 4, "2")
    # The old schedule (10 s doubling) had the fifth try ~160 s after the first; now the retry job's
    # first step is 15 s after the third fast retry.
    assert first.next_attempt_at - first.created_at < dt.timedelta(seconds=35)
    clock.set(first.next_attempt_at)
    live_app.run_job(jobs.retry_outbox)
    sent = rows(live_app)
    assert all(r.status == "sent" for r in sent) and sent[0].attempts == 5
    assert len(whatsapp.replies()) == len(sent)
    assert len(graph_api.requests) == 4 + len(sent)  # nothing sent twice


def test_the_first_send_that_succeeds_after_an_outage_makes_the_backlog_due(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, clock: FrozenClock, timer: ClockTimer
) -> None:
    graph_api.fail(500, times=4)
    assert whatsapp.say("hi") == []  # backing off now, for 15 s
    waiting = rows(live_app)[0]
    other = WhatsAppUser(live_app, graph_api, wa_id="919876543210")
    try:
        assert other.say("hi")  # the API answers again: another customer's reply goes out
    finally:
        other.close()
    hurried = [r for r in rows(live_app) if r.phone == waiting.phone]
    assert all(r.next_attempt_at <= clock.now() for r in hurried)
    assert clock.now() < waiting.next_attempt_at  # no one moved the clock to the end of the wait
    live_app.run_job(jobs.retry_outbox)
    assert whatsapp.replies() and rows(live_app)[0].status == "sent"


def test_when_the_customer_writes_again_the_waiting_reply_is_tried_at_once(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, clock: FrozenClock, timer: ClockTimer
) -> None:
    graph_api.fail(500, times=4)
    assert whatsapp.say("hi") == []
    waiting = rows(live_app)[0]
    whatsapp.say("hello?")  # no retry job runs, nobody moves the clock
    assert clock.now() < waiting.next_attempt_at
    sent = rows(live_app)
    assert [r.status for r in sent] == ["sent"] * len(sent) and sent[0].attempts == 5
    assert [r.wa_message_id for r in whatsapp.replies()] == [r.wa_message_id for r in sent]  # in order


def test_a_row_that_just_failed_keeps_its_back_off(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, timer: ClockTimer
) -> None:
    graph_api.fail(500)
    whatsapp.send(meta.text(whatsapp.wa_id, "hi"))
    assert [r.attempts for r in rows(live_app)][:1] == [4]  # the first try and three fast ones, no more
    assert len(graph_api.requests) == 4


def test_a_chat_reply_that_could_only_arrive_late_is_expired(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, clock: FrozenClock, timer: ClockTimer
) -> None:
    graph_api.fail(500)
    whatsapp.send(meta.text(whatsapp.wa_id, "hi"))
    clock.advance(minutes=6)  # the outage lasts past BOT_REPLY_STALE_MINUTES (5)
    graph_api.recover()
    results = live_app.run_job(jobs.retry_outbox)
    assert whatsapp.replies() == []
    stale = rows(live_app)
    assert results["expired"] == len(stale) and results["sent"] == 0
    assert {(r.status, r.error_code) for r in stale} == {("expired", "stale")}
    clock.advance(minutes=10)
    live_app.run_job(jobs.retry_outbox)
    assert whatsapp.replies() == []  # expired for good


def test_a_closed_window_is_final_even_from_a_server_error(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, timer: ClockTimer
) -> None:
    graph_api.fail(500, RE_ENGAGEMENT, times=1)
    whatsapp.send(meta.text(whatsapp.wa_id, "hi"))
    first = rows(live_app)[0]
    assert (first.status, first.error_code, first.attempts) == ("failed", "131047", 1)
    assert timer.wakes == []


def test_on_the_system_clock_the_real_timer_thread_sends_the_fast_retries(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp
) -> None:
    """The production wiring: a SystemClock gives the app a timer thread. The steps are shortened so
    the test does not sit through 1 + 3 + 10 s; it waits for the outcome, never asserts a duration."""
    app = live_app.app
    app.extensions["loyalty.clock"] = SystemClock()
    app.extensions.pop("bot.retry_timer", None)
    app.extensions["bot.retry_policy"] = retry.RetryPolicy(fast=(dt.timedelta(milliseconds=20),) * 3)
    graph_api.fail(500, times=3)
    whatsapp.send(meta.text(whatsapp.wa_id, "hi"))
    graph_api.wait_for(1, timeout=30)
    live_app.settle()  # the sender thread records what it sent
    assert isinstance(app.extensions["bot.retry_timer"], fast_retry.RetryTimer)
    first = rows(live_app)[0]
    assert (first.status, first.attempts) == ("sent", 4)
    assert [r.status for r in graph_api.requests[:4]] == [500, 500, 500, 200]
