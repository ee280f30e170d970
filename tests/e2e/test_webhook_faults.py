"""The fault test: the Graph API answers 500 (then 429) for a while; afterwards every reply arrives exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from bot import jobs, retry
from bot.models import OutboxMessage
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import FakeGraphAPI
from tests.fakes import FrozenClock

CUSTOMERS = ["919812345670", "919812345671", "919812345672"]


def outbox_rows(live: LiveApp) -> list[OutboxMessage]:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_an_outage_loses_nothing_and_sends_nothing_twice(
    whatsapp: WhatsAppUser, graph_api: FakeGraphAPI, live_app: LiveApp, clock: FrozenClock
) -> None:
    # This outage outlasts a chat reply's default life (BOT_REPLY_STALE_MINUTES, tested in
    # test_outbox_recovery_e2e): here every reply must survive it.
    live_app.app.extensions["bot.retry_policy"] = retry.RetryPolicy(chat_stale_after=dt.timedelta(hours=2))
    graph_api.fail(500)
    for round_ in range(2):
        for wa_id in CUSTOMERS:
            whatsapp.send(meta.text(wa_id, "hi" if round_ == 0 else "points"))
        clock.advance(seconds=5)
    clock.advance(seconds=30)
    assert live_app.run_job(jobs.retry_outbox)["retry"] > 0  # still down: backed off again
    graph_api.fail(429)
    clock.advance(minutes=2)
    live_app.run_job(jobs.retry_outbox)
    assert graph_api.delivered == []
    expected = outbox_rows(live_app)
    assert expected and all(r.status == "queued" for r in expected)

    graph_api.recover()
    for _ in range(6):  # the scheduler keeps running; later runs must not resend anything
        clock.advance(minutes=10)
        live_app.run_job(jobs.retry_outbox)

    rows = outbox_rows(live_app)
    assert [r.status for r in rows] == ["sent"] * len(expected)
    delivered = graph_api.delivered
    assert len(delivered) == len(expected)
    assert Counter(r.wa_message_id for r in delivered).most_common(1)[0][1] == 1
    assert {r.wa_message_id for r in delivered} == {r.wa_message_id for r in rows}
    for wa_id in CUSTOMERS:  # each customer's replies in the order they were queued
        mine = [r for r in rows if r.phone == "+" + wa_id]
        assert [d.wa_message_id for d in graph_api.delivered_to(wa_id)] == [r.wa_message_id for r in mine]
