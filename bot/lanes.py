"""Per-process worker threads with one lane per phone, shared by handling and sending.

Every item of one phone goes to the same thread, so a customer's messages keep
their order while different customers don't wait for each other. Threads start on
first use, i.e. after gunicorn has forked.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar


class HasPhone(Protocol):
    @property
    def phone(self) -> str: ...


T = TypeVar("T", bound=HasPhone)


class PhoneLanes(Generic[T]):
    """Subclasses implement ``_run(q)``, the loop of one lane's thread."""

    thread_name = "lane"

    def __init__(self, threads: int = 4) -> None:
        self.queues: list[queue.Queue[T]] = [queue.Queue() for _ in range(threads)]
        self.lock = threading.Lock()
        self.started = False

    def submit(self, items: Iterable[T]) -> None:
        """Queue committed work; never blocks the request."""
        self._start()
        for item in items:
            self.queues[zlib.crc32(item.phone.encode()) % len(self.queues)].put(item)

    def wait_idle(self) -> None:
        """Block until everything submitted has been done (tests, shutdown)."""
        for q in self.queues:
            q.join()

    def discard_waiting(self) -> int:
        """Drop what no thread has taken yet, for a caller that knows it is safe elsewhere (stored
        messages stay ``received`` for the retry job); returns how many were dropped."""
        dropped = 0
        for q in self.queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
                q.task_done()
                dropped += 1
        return dropped

    def _start(self) -> None:
        with self.lock:
            if self.started:
                return
            for index, q in enumerate(self.queues):
                name = f"{self.thread_name}-{index}"
                threading.Thread(target=self._run, args=(q,), name=name, daemon=True).start()
            self.started = True

    def _run(self, q: queue.Queue[T]) -> None:
        raise NotImplementedError
