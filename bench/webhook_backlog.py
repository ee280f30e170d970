"""What the webhook bench reads from the database: the queue of stored messages and unsent replies.

The webhook answers once a message is stored; handling and replying happen afterwards, so the rows
are the queue. These functions tell how long it is, wait for it to drain, and time the replies.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text

from bench.webhook_messages import message_id

BACKLOG_SQL = (
    "SELECT (SELECT count(*) FROM inbound_messages WHERE status = 'received'),"
    " (SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')),"
    " (SELECT count(*) FROM inbound_messages WHERE status <> 'received')"
)


def backlog(url: str) -> tuple[int, int, int]:
    """(inbound rows not yet handled, outbox rows not yet sent, inbound rows handled)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            waiting, unsent, handled = conn.execute(text(BACKLOG_SQL)).one()
    finally:
        engine.dispose()
    return int(waiting), int(unsent), int(handled)


class BacklogWatch:
    """Samples the backlog once a second in a thread, to show whether handling keeps up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, inbound waiting, outbox unsent)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BacklogWatch:
        self.started = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        engine = create_engine(self.url)
        with engine.connect() as conn:
            while not self.stop.wait(1.0):
                waiting, unsent, _ = conn.execute(text(BACKLOG_SQL)).one()
                conn.commit()
                self.samples.append((round(time.monotonic() - self.started, 1), int(waiting), int(unsent)))
        engine.dispose()


def drain(url: str, limit: float = 300) -> float:
    """Seconds until every stored message is handled and every reply sent (``limit`` at most)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        waiting, unsent, _ = backlog(url)
        if waiting == 0 and unsent == 0:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def reply_latencies(url: str, run: str, first: int, count: int, start_wall: float, rate: float) -> list[float]:
    """Seconds from each message's scheduled POST to its first reply being marked sent."""
    engine = create_engine(url)
    ids = [message_id(run, i) for i in range(first, first + count)]
    sql = text(
        "SELECT i.wa_message_id, o.sent_at FROM inbound_messages i "
        "JOIN outbox o ON o.idempotency_key = 'reply:' || i.wa_message_id || '\\:0' "
        "WHERE i.wa_message_id = ANY(:ids) AND o.sent_at IS NOT NULL"
    )
    with engine.connect() as conn:
        sent = {wamid: at for wamid, at in conn.execute(sql, {"ids": ids}).tuples()}
    engine.dispose()
    out = []
    for j, wamid in enumerate(ids):
        at = sent.get(wamid)
        if at is not None:
            out.append(at.timestamp() - (start_wall + j / rate))
    return out


def tally(url: str, drain_seconds: float = 60) -> dict[str, int | float]:
    """Inbound rows by status, and how long the outbox took to drain after the load stopped."""
    engine = create_engine(url)
    started = time.monotonic()
    with engine.connect() as conn:
        while time.monotonic() - started < drain_seconds:
            pending = conn.execute(
                text("SELECT count(*) FROM outbox WHERE status IN ('queued','sending')")
            ).scalar_one()
            conn.commit()
            if pending == 0:
                break
            time.sleep(0.5)
        counts: dict[str, int | float] = {}
        for sql in (
            "SELECT 'inbound_' || status, count(*) FROM inbound_messages GROUP BY status",
            "SELECT 'outbox_' || status, count(*) FROM outbox GROUP BY status",
        ):
            counts.update((str(key), int(n)) for key, n in conn.execute(text(sql)).tuples())
        counts["outbox_drain_seconds"] = round(time.monotonic() - started, 1)
    engine.dispose()
    return counts
