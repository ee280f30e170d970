"""Fakes for unit tests. Real adapters are tested against real things elsewhere."""

from __future__ import annotations

import datetime as dt


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.current = now or dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current

    def set(self, moment: dt.datetime) -> None:
        self.current = moment
