"""Status webhooks move an outbox row forward only; a failure records Meta's code and reason."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import outbox, status
from bot.inbound import StatusUpdate
from bot.messages import Reply
from bot.models import OutboxMessage
from domain.db import Database
from tests.fakes import FrozenClock

WAMID = "wamid.OUT1"


@pytest.fixture
def sent_row(database: Database, clock: FrozenClock) -> int:
    with database.unit_of_work() as session:
        row = outbox.enqueue(session, "+919812345678", Reply(kind="text", body="hi"), key="k", now=clock.now())
        assert row is not None
        outbox.claim(session, row.id, clock.now())
        outbox.mark_sent(session, row.id, WAMID, clock.now())
        return row.id


def report(database: Database, clock: FrozenClock, state: str, **extra: object) -> OutboxMessage:
    with database.unit_of_work() as session:
        status.apply(session, StatusUpdate(WAMID, state, **extra), clock.now())  # type: ignore[arg-type]
    with database.unit_of_work() as session:
        return session.scalars(select(OutboxMessage).filter_by(wa_message_id=WAMID)).one()


def test_statuses_move_forward(database: Database, clock: FrozenClock, sent_row: int) -> None:
    at = dt.datetime(2026, 6, 15, 10, 5, tzinfo=dt.UTC)
    assert report(database, clock, "delivered", at=at).status == "delivered"
    row = report(database, clock, "read", at=at + dt.timedelta(minutes=1))
    assert (row.status, row.delivered_at, row.read_at) == ("read", at, at + dt.timedelta(minutes=1))


def test_a_late_delivered_does_not_undo_read(database: Database, clock: FrozenClock, sent_row: int) -> None:
    report(database, clock, "read")
    assert report(database, clock, "delivered").status == "read"
    assert report(database, clock, "sent").status == "read"


def test_read_first_fills_in_delivered(database: Database, clock: FrozenClock, sent_row: int) -> None:
    row = report(database, clock, "read")
    assert row.delivered_at is not None and row.read_at is not None


def test_failed_records_the_error(database: Database, clock: FrozenClock, sent_row: int) -> None:
    row = report(database, clock, "failed", error_code="131047", error="Re-engagement message")
    assert (row.status, row.error_code, row.error) == ("failed", "131047", "Re-engagement message")
    assert row.failed_at is not None


def test_failed_after_delivered_is_ignored(database: Database, clock: FrozenClock, sent_row: int) -> None:
    report(database, clock, "delivered")
    assert report(database, clock, "failed", error_code="131026").status == "delivered"


def test_unknown_message_ids_change_nothing(database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        assert status.apply(session, StatusUpdate("wamid.NOPE", "read"), clock.now()) is False
