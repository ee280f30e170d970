"""The inbound pipeline: one transaction per message, failures answered, floods muted, nothing lost."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bot import conversations, jobs, pipeline
from bot.messages import Incoming
from bot.models import Conversation, InboundMessage, OutboxMessage
from runtime import services
from tests.e2e import meta
from tests.fakes import FrozenClock
from tests.integration.bot.conftest import FakeSender, Poster, StubEngine

WA_ID, PHONE = "919812345678", "+919812345678"


def inbound(app: Flask) -> list[InboundMessage]:
    with services.database(app).unit_of_work() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def conversation(app: Flask, phone: str = PHONE) -> Conversation:
    with services.database(app).unit_of_work() as session:
        conv = session.get(Conversation, phone)
        assert conv is not None
        return conv


def test_a_failure_in_handling_is_stored_as_failed_and_answered_with_an_apology(
    webhook: Poster, fake_sender: FakeSender, stub_engine: StubEngine
) -> None:
    stub_engine.fail_with = RuntimeError("boom")
    response = webhook.post(meta.text(WA_ID, "points"))
    assert response.status_code == 200
    (row,) = inbound(webhook.app)
    assert (row.status, row.error) == ("failed", "RuntimeError: boom")
    assert fake_sender.bodies(PHONE) == ["sorry"]
    stub_engine.fail_with = None
    webhook.post(meta.text(WA_ID, "points", message_id=row.wa_message_id))  # Meta redelivers: still once
    assert fake_sender.bodies(PHONE) == ["sorry"]


def test_a_database_error_while_storing_answers_500_so_meta_redelivers(
    webhook: Poster, fake_sender: FakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_store = pipeline.store_all_received

    def outage(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(pipeline, "store_all_received", outage)
    body = meta.text(WA_ID, "points")
    assert webhook.post(body).status_code == 500
    assert inbound(webhook.app) == [] and fake_sender.sent == []
    monkeypatch.setattr(pipeline, "store_all_received", real_store)
    assert webhook.post(body).status_code == 200
    assert [r.status for r in inbound(webhook.app)] == ["handled"]
    assert fake_sender.bodies(PHONE) == ["echo text: points"]


def test_a_database_error_while_handling_keeps_the_message_for_the_retry_job(
    webhook: Poster, fake_sender: FakeSender, stub_engine: StubEngine, clock: FrozenClock
) -> None:
    stub_engine.fail_with = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    body = meta.text(WA_ID, "points")
    assert webhook.post(body).status_code == 200  # stored: Meta need not redeliver
    assert [r.status for r in inbound(webhook.app)] == ["received"] and fake_sender.sent == []
    stub_engine.fail_with = None
    assert jobs.handle_stranded(webhook.app) == 0  # too fresh: a live handler thread may still have it
    clock.advance(seconds=31)
    assert jobs.handle_stranded(webhook.app) == 1
    assert webhook.post(body).status_code == 200  # a late redelivery changes nothing
    assert jobs.handle_stranded(webhook.app) == 0
    assert [r.status for r in inbound(webhook.app)] == ["handled"]
    assert fake_sender.bodies(PHONE) == ["echo text: points"]


def test_a_phones_messages_are_handled_in_the_order_they_were_stored(
    webhook: Poster, fake_sender: FakeSender, clock: FrozenClock
) -> None:
    db = services.database(webhook.app)
    with db.unit_of_work() as session:  # two messages stored, as if by a worker that died before handling
        first = pipeline.store_received(session, Incoming("wamid.A", PHONE, "text", "first"), clock.now())
        pipeline.store_received(session, Incoming("wamid.B", PHONE, "text", "second"), clock.now())
    assert first is not None
    webhook.post(meta.text(WA_ID, "third"))  # its handler takes the older ones first
    assert fake_sender.bodies(PHONE) == ["echo text: first", "echo text: second", "echo text: third"]
    assert [r.status for r in inbound(webhook.app)] == ["handled"] * 3


def test_the_engine_sees_the_previous_inbound_time(webhook: Poster, clock: FrozenClock) -> None:
    webhook.post(meta.text(WA_ID, "hi"))
    first = clock.now()
    assert conversation(webhook.app).last_inbound_at == first
    clock.advance(hours=30)
    conv = conversation(webhook.app)
    assert not conversations.window_open(conv, clock.now())
    webhook.post(meta.text(WA_ID, "hi again"))
    assert conversations.window_open(conversation(webhook.app), clock.now())


def test_a_flooding_number_gets_one_notice_then_silence_and_others_are_not_affected(
    webhook: Poster, fake_sender: FakeSender, clock: FrozenClock
) -> None:
    for i in range(25):
        webhook.post(meta.text(WA_ID, f"spam {i}"))
        clock.advance(seconds=1)
    webhook.post(meta.text("919876543210", "hello"))
    bodies = fake_sender.bodies(PHONE)
    assert bodies[:20] == [f"echo text: spam {i}" for i in range(20)]
    assert bodies[20:] == ["slow down"]
    assert fake_sender.bodies("+919876543210") == ["echo text: hello"]
    statuses = [r.status for r in inbound(webhook.app) if r.phone == PHONE]
    assert statuses == ["handled"] * 20 + ["ignored"] * 5  # stored, never lost
    clock.advance(minutes=10)
    webhook.post(meta.text(WA_ID, "back"))
    assert fake_sender.bodies(PHONE)[-1] == "echo text: back"


def test_twenty_a_minute_is_not_a_flood(webhook: Poster, fake_sender: FakeSender, clock: FrozenClock) -> None:
    for minute in range(2):
        for i in range(20):
            webhook.post(meta.text(WA_ID, f"m{minute}-{i}"))
            clock.advance(seconds=2)
        clock.advance(seconds=30)
    assert len(fake_sender.bodies(PHONE)) == 40 and "slow down" not in fake_sender.bodies(PHONE)


def test_claimers_racing_for_the_same_stored_messages_handle_each_once(
    webhook: Poster, stub_engine: StubEngine, clock: FrozenClock
) -> None:
    """A live handler thread and the retry job (or two workers) taking the same rows at once."""
    db = services.database(webhook.app)
    with db.unit_of_work() as session:
        stored = [
            pipeline.store_received(session, Incoming(f"wamid.R{i}", PHONE, "text", f"m{i}"), clock.now())
            for i in range(6)
        ]
    last = stored[-1]
    assert last is not None
    outcomes: list[list[Any]] = []
    barrier = threading.Barrier(3)

    def claimer() -> None:
        barrier.wait()
        outcomes.append(pipeline.handle_through(db, last, clock.now(), webhook.app.config))

    threads = [threading.Thread(target=claimer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m.text for m in stub_engine.handled) == [f"m{i}" for i in range(6)]  # each once
    assert [m.text for m in stub_engine.handled] == [f"m{i}" for i in range(6)]  # in stored order
    assert sum(len(replies) for replies in outcomes) == 6
    assert [r.status for r in inbound(webhook.app)] == ["handled"] * 6


def store_many(app: Flask, clock: FrozenClock, texts: list[tuple[str, str]]) -> list[pipeline.Stored]:
    with services.database(app).unit_of_work() as session:
        stored = [
            pipeline.store_received(session, Incoming(f"wamid.B{i}", phone, "text", text), clock.now())
            for i, (phone, text) in enumerate(texts)
        ]
    assert all(s is not None for s in stored)
    return [s for s in stored if s is not None]


def test_a_batch_handles_several_phones_in_one_transaction_each_message_once_in_order(
    webhook: Poster, stub_engine: StubEngine, clock: FrozenClock
) -> None:
    other = "+919812345679"
    stored = store_many(webhook.app, clock, [(PHONE, "a1"), (other, "b1"), (PHONE, "a2"), (other, "b2")])
    db = services.database(webhook.app)
    commits: list[int] = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    try:
        # Only the newest of each phone is handed over: the older ones are taken on the way.
        replies = pipeline.handle_batch(db, [stored[2], stored[3]], clock.now(), webhook.app.config)
    finally:
        event.remove(db.engine, "commit", listener)
    assert len(commits) == 1
    assert [m.text for m in stub_engine.handled] == ["a1", "a2", "b1", "b2"]  # each phone in stored order
    assert sorted(r.message.body for r in replies) == [
        "echo text: a1",
        "echo text: a2",
        "echo text: b1",
        "echo text: b2",
    ]
    assert [r.status for r in inbound(webhook.app)] == ["handled"] * 4
    assert pipeline.handle_batch(db, stored, clock.now(), webhook.app.config) == []  # nothing left: no-op


def test_a_failure_in_a_batch_rolls_it_back_and_each_phone_is_handled_on_its_own(
    webhook: Poster, stub_engine: StubEngine, clock: FrozenClock
) -> None:
    phones = ["+919812345671", "+919812345672", "+919812345673"]
    stored = store_many(webhook.app, clock, [(phone, "hello") for phone in phones])
    real_handle = stub_engine.handle

    def failing_for_the_second(session: Any, incoming: Incoming, *args: Any, **kwargs: Any) -> Any:
        if incoming.phone == phones[1]:
            raise RuntimeError("boom")
        return real_handle(session, incoming, *args, **kwargs)

    stub_engine.handle = failing_for_the_second  # type: ignore[method-assign]
    db = services.database(webhook.app)
    replies = pipeline.handle_batch(db, stored, clock.now(), webhook.app.config)

    assert sorted((r.phone, r.message.body) for r in replies) == [
        (phones[0], "echo text: hello"),
        (phones[1], "sorry"),
        (phones[2], "echo text: hello"),
    ]
    rows = {row.phone: row for row in inbound(webhook.app)}
    assert [rows[p].status for p in phones] == ["handled", "failed", "handled"]
    # The first phone's work in the rolled-back batch left nothing behind: handled once, answered once.
    assert [m.phone for m in stub_engine.handled].count(phones[0]) == 2  # the batch's try and the real one
    with db.unit_of_work() as session:
        bodies = session.scalars(select(OutboxMessage.phone).where(OutboxMessage.phone == phones[0])).all()
    assert len(bodies) == 1
