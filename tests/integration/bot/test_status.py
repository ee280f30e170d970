"""Status webhooks move an outbox row forward only; a failure records Meta's code and reason."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import outbox, status
from bot.inbound import StatusUpdate
from bot.messages import Reply
from bot.models import EarlyStatus, OutboxMessage
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


def queued_row(database: Database, clock: FrozenClock) -> int:
    with database.unit_of_work() as session:
        row = outbox.enqueue(session, "+919812345678", Reply(kind="text", body="hi"), key="k", now=clock.now())
        assert row is not None
        outbox.claim(session, row.id, clock.now())
        return row.id


def test_a_report_that_overtakes_the_recording_of_the_id_is_applied_once_the_id_is_known(
    database: Database, clock: FrozenClock
) -> None:
    """Meta can report "delivered" before the sender's commit records the message's id."""
    row_id = queued_row(database, clock)
    at = clock.now() + dt.timedelta(seconds=1)
    with database.unit_of_work() as session:
        assert status.apply(session, StatusUpdate(WAMID, "delivered", at=at), clock.now()) is False
    with database.unit_of_work() as session:
        assert status.apply_early(session, clock.now()) == (0, 0)  # the id is not recorded yet: kept
        outbox.mark_sent(session, row_id, WAMID, clock.now())
    with database.unit_of_work() as session:
        assert status.apply_early(session, clock.now()) == (1, 0)
    with database.unit_of_work() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None and (row.status, row.delivered_at) == ("delivered", at)
        assert session.scalars(select(EarlyStatus)).all() == []


def test_an_early_failure_fails_the_message_once_known(database: Database, clock: FrozenClock) -> None:
    row_id = queued_row(database, clock)
    with database.unit_of_work() as session:
        status.apply(session, StatusUpdate(WAMID, "failed", error_code="131026", error="Undeliverable"), clock.now())
        outbox.mark_sent(session, row_id, WAMID, clock.now())
        status.apply_early(session, clock.now())
    with database.unit_of_work() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None and (row.status, row.error_code) == ("failed", "131026")


def test_reports_for_messages_that_never_turn_up_are_dropped_after_a_day(
    database: Database, clock: FrozenClock
) -> None:
    with database.unit_of_work() as session:
        status.apply(session, StatusUpdate("wamid.SOMEONE-ELSES", "read"), clock.now())
        status.apply(session, StatusUpdate("wamid.X", "deleted"), clock.now())  # not a status we know: not kept
    clock.advance(hours=23)
    with database.unit_of_work() as session:
        assert status.apply_early(session, clock.now()) == (0, 0)
    clock.advance(hours=2)
    with database.unit_of_work() as session:
        assert status.apply_early(session, clock.now()) == (0, 1)
        assert session.scalars(select(EarlyStatus)).all() == []


def test_reports_about_other_messages_never_hold_up_ours(database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        for i in range(5):  # messages sent from elsewhere with the same number: no row of ours
            status.apply(session, StatusUpdate(f"wamid.ELSEWHERE{i}", "delivered"), clock.now())
    row_id = queued_row(database, clock)
    with database.unit_of_work() as session:
        status.apply(session, StatusUpdate(WAMID, "read"), clock.now())
        outbox.mark_sent(session, row_id, WAMID, clock.now())
    with database.unit_of_work() as session:
        assert status.apply_early(session, clock.now(), limit=2) == (1, 0)
    with database.unit_of_work() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None and row.status == "read"
        assert len(session.scalars(select(EarlyStatus)).all()) == 5
