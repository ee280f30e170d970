"""Per-phone lanes: a phone's items stay in order on one thread; waiting items can be dropped on shutdown."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from bot.lanes import PhoneLanes


@dataclass(frozen=True)
class Item:
    phone: str
    n: int


class Recording(PhoneLanes[Item]):
    def __init__(self, threads: int) -> None:
        super().__init__(threads)
        self.done: list[Item] = []
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def _run(self, q: queue.Queue[Item]) -> None:
        while True:
            item = q.get()
            self.gate.wait()
            with self.lock:
                self.done.append(item)
            q.task_done()


def test_a_phones_items_are_done_in_order() -> None:
    lanes = Recording(3)
    lanes.gate.set()
    lanes.submit(Item(f"+9198{p}", n) for n in range(5) for p in range(4))
    lanes.wait_idle()
    for p in range(4):
        assert [i.n for i in lanes.done if i.phone == f"+9198{p}"] == [0, 1, 2, 3, 4]


def test_waiting_items_can_be_dropped_and_the_ones_in_hand_are_finished() -> None:
    lanes = Recording(1)
    lanes.submit([Item("+919800000001", n) for n in range(4)])
    while lanes.queues[0].qsize() != 3:  # the thread took the first and waits at the gate
        threading.Event().wait(0.01)
    assert lanes.discard_waiting() == 3
    lanes.gate.set()
    lanes.wait_idle()  # returns: nothing is left waiting
    assert lanes.done == [Item("+919800000001", 0)]
