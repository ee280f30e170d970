"""``Database.single_statement``: the webhook's one-INSERT path, atomic and durable without BEGIN/COMMIT."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, insert, select

from bot.models import InboundMessage
from domain.db import Database
from tests.fakes import FrozenClock


def row(i: int, clock: FrozenClock) -> dict[str, object]:
    return {
        "wa_message_id": f"wamid.S{i}",
        "phone": "+919812345678",
        "kind": "text",
        "text": "hi",
        "payload": {},
        "status": "received",
        "received_at": clock.now(),
    }


def count(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def test_a_statement_is_stored_when_the_block_ends_and_on_postgresql_without_begin_or_commit(
    database: Database, clock: FrozenClock
) -> None:
    sent: list[str] = []
    with database.single_statement() as conn:
        event.listen(conn, "before_cursor_execute", lambda *args, **kw: sent.append(args[2].split()[0]))
        event.listen(conn, "commit", lambda *args: sent.append("COMMIT"))
        conn.execute(insert(InboundMessage.__table__), [row(1, clock), row(2, clock)])
        if database.is_postgresql:
            assert count(database) == 2  # already visible to another connection: autocommitted
    assert count(database) == 2
    if database.is_postgresql:
        assert sent == ["INSERT"]
        assert database.engine.pool.checkedout() == 0  # the ordinary pool is not switched in and out of autocommit


def test_a_failing_statement_stores_none_of_its_rows(database: Database, clock: FrozenClock) -> None:
    with database.single_statement() as conn:
        conn.execute(insert(InboundMessage.__table__), [row(1, clock)])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), database.single_statement() as conn:
        conn.execute(insert(InboundMessage.__table__), [row(2, clock), row(1, clock)])  # the second is a duplicate
    assert count(database) == 1
