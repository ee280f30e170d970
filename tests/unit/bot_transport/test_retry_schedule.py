"""The retry schedule (``bot.retry``) with a fake clock and a fixed jitter source, and the fast-retry timer."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
from pywa.errors import WhatsAppError

from bot import fast_retry, retry
from bot.sender import classify
from tests.fakes import FrozenClock

NO_JITTER = retry.RetryPolicy(rand=lambda: 0.5)
SECOND = dt.timedelta(seconds=1)


def seconds(delay: dt.timedelta) -> float:
    return round(delay.total_seconds(), 3)


def test_fast_steps_first_then_doubling_to_a_cap() -> None:
    delays = [seconds(retry.next_delay(n, "2", NO_JITTER)) for n in range(1, 11)]
    assert delays == [1, 3, 10, 15, 30, 60, 120, 240, 480, 600]
    assert [retry.in_process(n, "2") for n in range(1, 6)] == [True, True, True, False, False]


def test_jitter_spreads_each_delay_by_a_fifth_either_way() -> None:
    low = retry.RetryPolicy(rand=lambda: 0.0)
    high = retry.RetryPolicy(rand=lambda: 0.999999)
    assert seconds(retry.next_delay(1, None, low)) == 0.8
    assert seconds(retry.next_delay(3, None, low)) == 8
    assert 11.99 < seconds(retry.next_delay(3, None, high)) <= 12
    assert 719.9 < seconds(retry.next_delay(12, None, high)) <= 720


def test_rate_limits_skip_the_fast_steps() -> None:
    for code in ("130429", "131056", "80007"):
        assert not retry.in_process(1, code)
        assert [seconds(retry.next_delay(n, code, NO_JITTER)) for n in (1, 2, 3)] == [30, 60, 120]


def test_four_failures_then_healthy_is_sent_within_a_minute_not_160_seconds() -> None:
    """The issue's outage on a fake clock: the old schedule (10 s doubling) sent the reply after ~160 s."""
    clock, worst = FrozenClock(), retry.RetryPolicy(rand=lambda: 0.999999)
    start, woken_in_process = clock.now(), []
    for failed in range(1, 5):  # tries 1-4 fail; each waits its delay before the next
        woken_in_process.append(retry.in_process(failed, "2"))
        clock.set(clock.now() + retry.next_delay(failed, "2", worst))
    assert woken_in_process == [True, True, True, False]  # tries 2-4 need no scheduler; the 5th is its job
    assert clock.now() - start < dt.timedelta(seconds=35)  # when the fifth try is due, at the worst jitter


def error(code: int, status: int) -> WhatsAppError:
    response = httpx.Response(status, request=httpx.Request("POST", "http://x"))
    return WhatsAppError.from_dict({"code": code, "message": "boom", "is_transient": True}, response=response)


def test_a_closed_window_and_an_unknown_number_are_final_whatever_the_status() -> None:
    for code in (131047, 131026):
        assert not classify(error(code, 500)).transient
    assert classify(error(2, 500)).transient


def test_chat_replies_go_stale_in_minutes_notices_keep_a_day() -> None:
    created = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
    policy = retry.policy_from({"BOT_REPLY_STALE_MINUTES": "3"})
    assert retry.deadline("bot", created, policy) == created + dt.timedelta(minutes=3)
    assert retry.deadline("api", created, policy) == created + dt.timedelta(minutes=3)
    assert retry.deadline("notification", created, policy) == created + dt.timedelta(hours=24)
    assert retry.deadline("staff", created, policy) == created + dt.timedelta(hours=24)
    assert retry.policy_from({}).chat_stale_after == dt.timedelta(minutes=5)


def test_the_timer_wakes_a_row_only_when_its_time_has_come() -> None:
    clock = FrozenClock()
    timer = fast_retry.RetryTimer(clock.now, thread=False)
    woken: list[str] = []
    timer.later(clock.now() + 3 * SECOND, lambda: woken.append("later"))
    timer.later(clock.now() + SECOND, lambda: woken.append("first"))
    assert timer.due() == []
    clock.advance(seconds=1)
    for wake in timer.due():
        wake()
    assert woken == ["first"]
    clock.advance(seconds=5)
    for wake in timer.due():
        wake()
    assert woken == ["first", "later"]


def test_the_timer_thread_wakes_what_is_due() -> None:
    clock = FrozenClock()
    timer = fast_retry.RetryTimer(clock.now)
    woken = threading.Event()
    timer.later(clock.now() + SECOND, woken.set)
    timer.later(clock.now() + dt.timedelta(hours=1), lambda: None)  # the earlier one must not wait for it
    clock.advance(seconds=2)
    timer.later(clock.now() + dt.timedelta(hours=2), lambda: None)  # a change wakes the thread to look again
    assert woken.wait(timeout=30)


def test_an_outage_is_over_at_the_first_send_that_succeeds_after_a_failure() -> None:
    outage = fast_retry._Outage()
    assert not outage.after({1: "sent"})  # nothing failed before
    assert not outage.after({2: "retry"})
    assert not outage.after({2: "skipped"})
    assert outage.after({3: "sent"})  # the API answers again
    assert not outage.after({4: "sent"})  # once
