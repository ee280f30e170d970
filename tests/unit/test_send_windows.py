"""The campaign sender's own timing: the per-process windows and the late-slot rule (``bot.campaign_sender``).

A virtual clock stands in for ``time``: sleeping moves it on, so each case is exact and instant.
"""

from __future__ import annotations

import pytest

from bot import campaign_sender
from bot.campaign_sender import LATE, WINDOW_SLACK, Slots, Window, early_cap


class VirtualTime:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    virtual = VirtualTime()
    monkeypatch.setattr(campaign_sender, "time", virtual)
    return virtual


def most_within_a_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_a_window_lets_the_rate_through_at_once_and_the_next_one_a_second_after_the_first(clock: VirtualTime) -> None:
    window = Window()
    for _ in range(80):
        window.enter(80)
    assert clock.slept == []  # a burst within the rate does not wait
    window.enter(80)
    assert clock.now == pytest.approx(1_000.0 + 1.0 + WINDOW_SLACK)
    assert most_within_a_second(list(window.times)) <= 80


def test_a_late_entry_does_not_make_the_next_ones_late(clock: VirtualTime) -> None:
    """A sliding window, not a spacing: one thread that woke 30 ms late costs the others nothing."""
    window, entered = Window(), {}
    arrivals = {i: 1_000.0 + i / 78.0 + (0.03 if i == 50 else 0.0) for i in range(200)}
    for i, at in sorted(arrivals.items(), key=lambda item: item[1]):
        clock.now = max(clock.now, at)
        window.enter(80)
        entered[i] = clock.now
    after = range(51, 130)
    assert [entered[i] for i in after] == pytest.approx([arrivals[i] for i in after])  # not held up by it
    assert most_within_a_second(list(entered.values())) <= 80


def test_a_window_never_holds_more_than_the_rate_in_any_second_whatever_the_arrivals(clock: VirtualTime) -> None:
    window, entered = Window(), []
    arrivals = [1_000.0 + (i // 40) * 0.3 for i in range(400)]  # bursts of 40 every 0.3 s: 133 a second asked for
    for at in arrivals:
        clock.now = max(clock.now, at)
        window.enter(20)
        entered.append(clock.now)
    assert most_within_a_second(entered) == 20
    assert len(entered) == 400  # everyone gets through, later


@pytest.mark.parametrize(("ceiling", "turns"), [(1, 1), (2, 1), (10, 9), (20, 19), (40, 39), (80, 78), (200, 195)])
def test_turns_before_the_commit_leave_room_under_the_ceiling(ceiling: int, turns: int) -> None:
    assert early_cap(ceiling) == turns


class FixedPace:
    """Hands out slots 1/rate apart from a start, like the shared pace with one sender."""

    def __init__(self, first: float) -> None:
        self.next = first
        self.reserved = 0

    def reserve(self, count: int, rate: float) -> float:
        first, self.next = self.next, self.next + count / rate
        self.reserved += count
        return first

    def hold(self, seconds: float) -> None:
        self.next += seconds


def test_a_thread_that_wakes_late_takes_a_fresh_slot_instead_of_sending_late(
    clock: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = Slots(FixedPace(first=1_000.0))
    real_sleep = clock.sleep
    oversleep = [0.2]  # the first wake-up is 200 ms late (the interpreter was busy)

    def sleep(seconds: float) -> None:
        real_sleep(seconds + oversleep.pop() if oversleep else seconds)

    monkeypatch.setattr(clock, "sleep", sleep)
    clock.now = 999.9
    slots.wait_for_one(10.0, 10.0)
    # Slot 1 000.0 was overslept to 1 000.2: dropped; the next slots still queued (1 000.1 and
    # 1 000.2) are past by more than STALE or are taken, and the thread sends within LATE of its slot.
    taken = clock.now
    assert taken >= 1_000.2
    assert len(slots.turns.times) == 1 and slots.turns.times[0] == taken
    assert all(s > taken - LATE for s in slots.queue)


def test_the_gate_counts_requests_started_not_turns_taken(clock: VirtualTime) -> None:
    slots = Slots(FixedPace(first=1_000.0))
    for _ in range(5):
        slots.gate(5.0)
    assert clock.slept == []
    slots.gate(5.0)
    assert clock.now == pytest.approx(1_000.0 + 1.0 + WINDOW_SLACK)
    assert len(slots.turns.times) == 0
