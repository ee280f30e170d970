"""Proactive notifications: only to opted-in customers; a message inside the 24-hour window, a template outside."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot import jobs, notify
from bot.messages import Reply, Template
from bot.models import Conversation, OutboxMessage
from domain.customers import Customer, NewCustomer, enrol
from domain.notifications import Notification
from domain.notifications import notify as record
from runtime import services
from tests.fakes import FrozenClock
from tests.integration.bot.conftest import FakeSender

PHONE = "+919812345678"


@pytest.fixture(autouse=True)
def stub_render(monkeypatch: pytest.MonkeyPatch) -> None:
    def render(session: Any, notification: Notification, customer: Customer, config: Any) -> tuple[Reply, Template]:
        points = str(notification.payload["points"])
        return Reply(kind="text", body=f"You earned {points} points"), Template(
            "points_earned", customer.language, (points,)
        )

    monkeypatch.setattr(notify, "render", render)


def setup(app: Flask, clock: FrozenClock, *, opted_in: bool, last_inbound_hours_ago: float | None) -> int:
    with services.database(app).unit_of_work() as session:
        customer, _ = enrol(session, NewCustomer(phone=PHONE, language="hi"), clock.now())
        customer.opted_in = opted_in
        if last_inbound_hours_ago is not None:
            when = clock.now() - dt.timedelta(hours=last_inbound_hours_ago)
            session.add(Conversation(phone=PHONE, updated_at=when, last_inbound_at=when, state="menu", data={}))
        session.flush()
        row = record(session, customer.id, "points_earned", "order:1", {"points": 120}, clock.now())
        assert row is not None
        session.flush()
        return row.id


def outcome(app: Flask, notification_id: int) -> tuple[Notification, list[OutboxMessage]]:
    with services.database(app).unit_of_work() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        rows = list(session.scalars(select(OutboxMessage)))
        return notification, rows


def test_inside_the_window_a_normal_message(app: Flask, clock: FrozenClock, fake_sender: FakeSender) -> None:
    nid = setup(app, clock, opted_in=True, last_inbound_hours_ago=2)
    assert jobs.dispatch_notifications(app)["dispatched"] == 1
    notification, (row,) = outcome(app, nid)
    assert (notification.status, notification.dispatched_at) == ("dispatched", clock.now())
    assert (row.kind, row.idempotency_key, row.origin, row.status) == (
        "text",
        f"notification:{nid}",
        "notification",
        "sent",
    )
    assert fake_sender.bodies(PHONE) == ["You earned 120 points"]


def test_outside_the_window_the_template(app: Flask, clock: FrozenClock, fake_sender: FakeSender) -> None:
    nid = setup(app, clock, opted_in=True, last_inbound_hours_ago=30)
    jobs.dispatch_notifications(app)
    _, (row,) = outcome(app, nid)
    assert row.kind == "template"
    ((phone, message),) = fake_sender.sent
    assert phone == PHONE and message == Template("points_earned", "hi", ("120",))


def test_never_talked_means_template(app: Flask, clock: FrozenClock, fake_sender: FakeSender) -> None:
    setup(app, clock, opted_in=True, last_inbound_hours_ago=None)
    jobs.dispatch_notifications(app)
    assert isinstance(fake_sender.sent[0][1], Template)


def test_opted_out_customers_are_skipped_with_the_reason(
    app: Flask, clock: FrozenClock, fake_sender: FakeSender
) -> None:
    nid = setup(app, clock, opted_in=False, last_inbound_hours_ago=1)
    assert jobs.dispatch_notifications(app)["skipped"] == 1
    notification, rows = outcome(app, nid)
    assert (notification.status, notification.status_reason) == ("skipped", "customer not opted in")
    assert rows == [] and fake_sender.sent == []


def test_dispatching_twice_sends_once(app: Flask, clock: FrozenClock, fake_sender: FakeSender) -> None:
    setup(app, clock, opted_in=True, last_inbound_hours_ago=1)
    jobs.dispatch_notifications(app)
    assert not jobs.dispatch_notifications(app)
    assert len(fake_sender.sent) == 1
