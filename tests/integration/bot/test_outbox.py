"""The outbox on SQLite and PostgreSQL: idempotent keys, atomic claims, order, backoff, permanent failures."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask

from bot import jobs, outbox, retry
from bot.messages import Button, Reply, Row, Section, Template
from bot.models import OutboxMessage
from bot.sender import SendError, deliver, deliver_many, dispatcher
from domain.db import Database
from runtime import services
from tests.fakes import FrozenClock
from tests.integration.bot.conftest import FakeSender

PHONE = "+919812345678"


NO_JITTER = retry.RetryPolicy(rand=lambda: 0.5)


def put(
    db: Database, clock: FrozenClock, key: str, phone: str = PHONE, body: str = "hello", origin: str = "bot"
) -> int:
    with db.unit_of_work() as session:
        row = outbox.enqueue(session, phone, Reply(kind="text", body=body), key=key, now=clock.now(), origin=origin)
        assert row is not None
        return row.id


def get(db: Database, outbox_id: int) -> OutboxMessage:
    with db.unit_of_work() as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row is not None
        return row


def test_enqueue_is_idempotent_per_key(database: Database, clock: FrozenClock) -> None:
    put(database, clock, "k1")
    with database.unit_of_work() as session:
        assert outbox.enqueue(session, PHONE, Reply(kind="text", body="again"), key="k1", now=clock.now()) is None


def test_messages_survive_the_round_trip_through_the_row(database: Database, clock: FrozenClock) -> None:
    reply = Reply(
        kind="list",
        body="Pick one",
        sections=(Section("Rewards", (Row("r:1", "Coffee", "250 points"),)),),
        list_button="Rewards",
        header="Catalog",
    )
    buttons = Reply(kind="buttons", body="Sure?", buttons=(Button("yes", "Yes"), Button("no", "No")))
    template = Template("points_earned", "hi", ("120", "1,250"))
    with database.unit_of_work() as session:
        rows = [
            outbox.enqueue(session, PHONE, m, key=str(i), now=clock.now())
            for i, m in enumerate((reply, buttons, template))
        ]
    assert [outbox.message_of(r) for r in rows if r] == [reply, buttons, template]
    assert [r.kind for r in rows if r] == ["list", "buttons", "template"]


def test_a_row_is_claimed_once(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1")
    with database.unit_of_work() as session:
        assert outbox.claim(session, outbox_id, clock.now()) is not None
    with database.unit_of_work() as session:
        assert outbox.claim(session, outbox_id, clock.now()) is None
    clock.advance(seconds=outbox.LEASE.total_seconds() + 1)
    with database.unit_of_work() as session:  # the claimer died: the lease ran out
        claimed = outbox.claim(session, outbox_id, clock.now())
        assert claimed is not None and claimed.attempts == 2


def test_a_later_reply_waits_for_an_earlier_unsent_one(database: Database, clock: FrozenClock) -> None:
    first, second = put(database, clock, "k1"), put(database, clock, "k2")
    other = put(database, clock, "k3", phone="+919876543210")
    fake = FakeSender()
    assert deliver(database, fake, second, clock.now) == "skipped"
    assert deliver(database, fake, other, clock.now) == "sent"  # other customers don't wait
    assert deliver(database, fake, first, clock.now) == "sent"
    assert deliver(database, fake, second, clock.now) == "sent"
    assert fake.bodies(PHONE) == ["hello", "hello"]


def test_transient_errors_retry_fast_then_back_off(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1")
    fake = FakeSender(errors=[SendError("HTTP 500", code="2", transient=True) for _ in range(5)])
    start = clock.now()
    delays = []
    for _ in range(5):
        assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "retry"
        row = get(database, outbox_id)
        assert row.status == "queued" and row.error_code == "2"
        delays.append((row.next_attempt_at - clock.now()).total_seconds())
        assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "skipped"  # not due yet
        clock.set(row.next_attempt_at)
    assert delays == [1, 3, 10, 15, 30]
    assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "sent"
    row = get(database, outbox_id)
    assert (row.status, row.attempts, row.wa_message_id, row.error) == ("sent", 6, "wamid.fake1", None)
    assert row.sent_at is not None and row.sent_at > start


def test_a_rate_limit_backs_off_at_once(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1")
    fake = FakeSender(errors=[SendError("pair rate limit", code="131056", transient=True)])
    assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "retry"
    assert get(database, outbox_id).next_attempt_at - clock.now() == dt.timedelta(seconds=30)


def test_a_stale_chat_reply_is_expired_not_sent(database: Database, clock: FrozenClock) -> None:
    reply = put(database, clock, "k1")
    notice = put(database, clock, "k2", phone="+919876543210", origin="notification")
    clock.advance(minutes=6)
    fake = FakeSender()
    assert deliver(database, fake, reply, clock.now) == "expired"
    assert deliver(database, fake, notice, clock.now) == "sent"  # a notice is still true six minutes on
    row = get(database, reply)
    assert (row.status, row.error_code, row.attempts, row.failed_at) == ("expired", "stale", 0, clock.now())
    assert row.error is not None and "older than 5 minutes" in row.error
    assert fake.bodies("+919812345678") == []


def test_a_chat_reply_still_failing_near_its_deadline_expires(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1")
    fake = FakeSender(errors=[SendError("HTTP 503", code="503", transient=True) for _ in range(20)])
    outcomes = []
    for _ in range(20):
        outcomes.append(deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER))
        if outcomes[-1] != "retry":
            break
        clock.set(get(database, outbox_id).next_attempt_at)
    # 0, 1, 4, 14, 29, 59, 119 and 239 s: the next try (479 s) would be past five minutes
    assert outcomes == ["retry"] * 7 + ["expired"]
    row = get(database, outbox_id)
    assert (row.status, row.error_code, row.attempts) == ("expired", "stale", 8)
    assert row.error is not None and "still failing after 8 attempts" in row.error


def test_a_notification_keeps_retrying_past_the_chat_limit(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1", origin="notification")
    fake = FakeSender(errors=[SendError("HTTP 503", code="503", transient=True) for _ in range(12)])
    for _ in range(12):
        assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "retry"
        clock.set(get(database, outbox_id).next_attempt_at)
    assert clock.now() - get(database, outbox_id).created_at > dt.timedelta(minutes=30)
    assert deliver(database, fake, outbox_id, clock.now, policy=NO_JITTER) == "sent"


def test_a_permanent_error_fails_the_row_with_code_and_reason(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1")
    later = put(database, clock, "k2")
    fake = FakeSender(errors=[SendError("Re-engagement message: 24 hours passed", code="131047", transient=False)])
    assert deliver(database, fake, outbox_id, clock.now) == "failed"
    row = get(database, outbox_id)
    assert (row.status, row.error_code) == ("failed", "131047")
    assert row.error is not None and "Re-engagement" in row.error and row.failed_at == clock.now()
    assert deliver(database, fake, later, clock.now) == "sent"  # a failed row does not block the next


def test_notices_give_up_after_a_day(database: Database, clock: FrozenClock) -> None:
    outbox_id = put(database, clock, "k1", origin="notification")
    clock.advance(hours=25)
    fake = FakeSender(errors=[SendError("HTTP 503", code="503", transient=True)])
    assert deliver(database, fake, outbox_id, clock.now) == "failed"
    row = get(database, outbox_id)
    assert row.status == "failed" and row.error is not None and row.error.startswith("gave up after 1 attempts")


def test_concurrent_senders_send_a_row_exactly_once_on_postgresql(pg_database: Database, clock: FrozenClock) -> None:
    import threading

    ids = [put(pg_database, clock, f"k{i}", phone=f"+9198123456{i:02d}") for i in range(20)]
    fake = FakeSender()
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for outbox_id in ids:
            deliver(pg_database, fake, outbox_id, clock.now)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.calls == 20 and len(fake.sent) == 20


def test_a_batch_never_overtakes_a_row_held_elsewhere(database: Database, clock: FrozenClock) -> None:
    a1, a2 = put(database, clock, "a1"), put(database, clock, "a2")
    b1 = put(database, clock, "b1", phone="+919876543210")
    with database.unit_of_work() as session:  # another process is sending a1 right now
        assert outbox.claim(session, a1, clock.now()) is not None
    with database.unit_of_work() as session:
        assert [row.id for row in outbox.claim_many(session, [a1, a2, b1], clock.now())] == [b1]
    row = get(database, a2)
    assert (row.status, row.attempts) == ("queued", 0)


def test_a_failure_mid_batch_holds_back_only_that_phone(database: Database, clock: FrozenClock) -> None:
    a1, a2 = put(database, clock, "a1"), put(database, clock, "a2")
    b1 = put(database, clock, "b1", phone="+919876543210")
    fake = FakeSender(errors=[SendError("HTTP 500", code="2", transient=True)])
    assert deliver_many(database, fake, [a1, a2, b1], clock.now) == {a1: "retry", a2: "skipped", b1: "sent"}
    assert (get(database, a2).status, get(database, a2).attempts) == ("queued", 0)
    clock.advance(minutes=1)
    assert deliver_many(database, fake, [a1, a2], clock.now) == {a1: "sent", a2: "sent"}
    assert [m.body for p, m in fake.sent if p == PHONE] == ["hello", "hello"]  # type: ignore[union-attr]


def test_a_claim_made_by_the_request_is_used_only_well_inside_its_lease(
    app: Flask, clock: FrozenClock, fake_sender: FakeSender
) -> None:
    db = services.database(app)
    with db.unit_of_work() as session:
        row = outbox.enqueue(session, PHONE, Reply(kind="text", body="late"), key="k", now=clock.now(), claimed=True)
        assert row is not None and row.status == "sending"
        item = outbox.outgoing(row)
    clock.advance(seconds=outbox.LEASE.total_seconds() / 2 + 1)  # the sender thread was stuck behind others
    dispatcher(app)._send([item])
    assert fake_sender.sent == []
    assert jobs.retry_outbox(app)["sent"] == 0  # the lease still holds
    clock.advance(seconds=outbox.LEASE.total_seconds())
    assert jobs.retry_outbox(app)["sent"] == 1
    assert fake_sender.bodies() == ["late"]


def test_a_fresh_claim_is_sent_without_claiming_again(app: Flask, clock: FrozenClock, fake_sender: FakeSender) -> None:
    db = services.database(app)
    with db.unit_of_work() as session:
        row = outbox.enqueue(session, PHONE, Reply(kind="text", body="now"), key="k", now=clock.now(), claimed=True)
        assert row is not None
        item = outbox.outgoing(row)
    dispatcher(app)._send([item])
    assert fake_sender.bodies() == ["now"]
    assert (get(db, item.id).status, get(db, item.id).attempts) == ("sent", 1)


class BrokenSender(FakeSender):
    def send(self, phone: str, message: Reply | Template) -> str:
        if isinstance(message, Reply) and message.body == "poison":
            raise ValueError("unknown template language")
        return super().send(phone, message)


def test_a_message_the_sender_cannot_build_fails_and_does_not_stop_the_others(
    database: Database, clock: FrozenClock
) -> None:
    poison = put(database, clock, "p", body="poison")
    fine = put(database, clock, "f", phone="+919876543210", body="fine")
    sender = BrokenSender()
    assert deliver_many(database, sender, [poison, fine], clock.now) == {poison: "failed", fine: "sent"}
    assert (get(database, poison).status, get(database, poison).error_code) == ("failed", "internal")


def test_the_retry_job_reaches_rows_behind_a_full_batch_of_blocked_ones(
    app: Flask, clock: FrozenClock, fake_sender: FakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "BATCH", 2)
    db = services.database(app)
    first = put(db, clock, "a0")
    with db.unit_of_work() as session:  # held by a sender elsewhere: the next rows of this phone wait
        outbox.claim(session, first, clock.now())
    for i in range(1, 5):
        put(db, clock, f"a{i}")
    other = put(db, clock, "b", phone="+919876543210")
    results = jobs.retry_outbox(app)
    assert results["sent"] == 1 and fake_sender.bodies("+919876543210") == ["hello"]
    assert get(db, other).status == "sent"


def test_a_slow_sender_records_ids_as_it_goes_so_status_webhooks_find_them(
    database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.sender

    monkeypatch.setattr(bot.sender, "MARK_EVERY", 0.0)
    first, second = put(database, clock, "a"), put(database, clock, "b", phone="+919876543210")
    seen: list[str | None] = []

    class Watching(FakeSender):
        def send(self, phone: str, message: Reply | Template) -> str:
            if self.sent:
                seen.append(get(database, first).wa_message_id)
            return super().send(phone, message)

    assert deliver_many(database, Watching(), [first, second], clock.now) == {first: "sent", second: "sent"}
    assert seen == ["wamid.fake1"]


def test_replies_are_claimed_for_the_sender_unless_an_earlier_one_is_unsent(
    database: Database, clock: FrozenClock
) -> None:
    from bot import pipeline
    from bot.messages import Incoming

    replies = [Reply(kind="text", body="one"), Reply(kind="text", body="two")]
    with database.unit_of_work() as session:
        first = pipeline.enqueue_replies(session, Incoming("wamid.1", PHONE, "text", "hi"), replies, clock.now(), None)
        again = outbox.add_behind_pending(
            session, PHONE, replies[0], key="reply:wamid.1:0", now=clock.now(), customer_id=None
        )
    assert again is None  # the key is taken: nothing inserted
    assert [r.lease_until for r in first] == [clock.now() + outbox.LEASE] * 2
    assert {(get(database, r.id).status, get(database, r.id).attempts) for r in first} == {("sending", 1)}
    with database.unit_of_work() as session:
        later = pipeline.enqueue_replies(session, Incoming("wamid.2", PHONE, "text", "hi"), replies, clock.now(), None)
        other = pipeline.enqueue_replies(
            session, Incoming("wamid.3", "+919876543210", "text", "hi"), replies[:1], clock.now(), 7
        )
    assert [r.lease_until for r in later] == [None, None]  # queued behind the unsent ones
    for r in later:
        row = get(database, r.id)
        assert (row.status, row.attempts, row.next_attempt_at, row.payload["body"]) == (
            "queued",
            0,
            clock.now(),
            row.payload["body"],
        )
    assert [get(database, r.id).payload["body"] for r in later] == ["one", "two"]
    assert (
        other[0].lease_until is not None and get(database, other[0].id).customer_id == 7
    )  # other customers don't wait


def test_after_an_outage_the_retry_job_sends_on_several_threads_each_phone_in_order(
    app: Flask, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Graph API call waits a round trip: a backlog is sent several at a time, never out of order."""
    import threading
    import time

    class RoundTrip(FakeSender):
        def __init__(self) -> None:
            super().__init__()
            self.in_flight = self.most = 0
            self.gate = threading.Lock()

        def send(self, phone: str, message: Reply | Template) -> str:
            with self.gate:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            time.sleep(0.05)  # the round trip
            with self.gate:
                self.in_flight -= 1
            return super().send(phone, message)

    sender = RoundTrip()
    app.extensions["bot.sender"] = sender
    db = services.database(app)
    phones = [f"+9198765432{i:02d}" for i in range(8)]
    for n in range(3):
        for phone in phones:
            put(db, clock, f"{phone}:{n}", phone=phone, body=f"reply {n}")
    app.config["BOT_SENDER_THREADS"] = "4"

    results = jobs.retry_outbox(app)

    assert results["sent"] == 24
    assert sender.most > 1  # several sends were waiting on the Graph API at once
    for phone in phones:
        assert sender.bodies(phone) == ["reply 0", "reply 1", "reply 2"]  # each phone's replies in order, once
