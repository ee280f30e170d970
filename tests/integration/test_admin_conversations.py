"""Conversations in the console: waiting list, thread, staff reply in the 24-hour window, hand-off, simulator."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from bot import conversations
from bot.models import Conversation, OutboxMessage
from domain.db import Database
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client

PHONE = "+919812345678"


def conversation(database: Database, clock: FrozenClock, *, wrote_hours_ago: float, handoff: bool) -> None:
    with database.unit_of_work() as session:
        conv = conversations.load(session, PHONE, clock.now())
        conv.last_inbound_at = clock.now() - dt.timedelta(hours=wrote_hours_ago)
        conv.handoff = handoff
        conv.handoff_at = clock.now() - dt.timedelta(minutes=5) if handoff else None


def test_waiting_list_reply_and_hand_back(app: Flask, database: Database, clock: FrozenClock) -> None:
    conversation(database, clock, wrote_hours_ago=1, handoff=True)
    client = staff_client(app, database, "support")
    assert PHONE in client.get("/admin/conversations").get_data(as_text=True)
    thread = client.get(f"/admin/conversations/{PHONE}").get_data(as_text=True)
    assert "Send reply" in thread and "Hand back to the bot" in thread
    token = csrf_token(client, f"/admin/conversations/{PHONE}")
    client.post(f"/admin/conversations/{PHONE}/reply", data={"csrf_token": token, "text": "Hello from the shop"})
    with database.unit_of_work() as session:
        sent = session.scalar(select(OutboxMessage).where(OutboxMessage.origin == "staff"))
    assert sent is not None and sent.phone == PHONE
    assert "Hello from the shop" in client.get(f"/admin/conversations/{PHONE}").get_data(as_text=True)
    client.post(f"/admin/conversations/{PHONE}/hand-back", data={"csrf_token": token})
    with database.unit_of_work() as session:
        conv = session.get(Conversation, PHONE)
        assert conv is not None and conv.handoff is False
    assert PHONE not in client.get("/admin/conversations").get_data(as_text=True)


def test_outside_the_window_the_console_says_why_no_reply_is_possible(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    conversation(database, clock, wrote_hours_ago=30, handoff=True)
    client = staff_client(app, database, "support")
    page = client.get(f"/admin/conversations/{PHONE}").get_data(as_text=True)
    assert "more than 24 hours ago" in page and "Send reply" not in page
    token = csrf_token(client, f"/admin/conversations/{PHONE}")
    refused = client.post(
        f"/admin/conversations/{PHONE}/reply",
        data={"csrf_token": token, "text": "hi"},
        headers={"Referer": f"http://localhost/admin/conversations/{PHONE}"},
        follow_redirects=True,
    )
    assert "last 24 hours" in refused.get_data(as_text=True)
    with database.unit_of_work() as session:
        assert session.scalar(select(OutboxMessage.id)) is None


def test_take_over_silences_the_bot(app: Flask, database: Database, clock: FrozenClock) -> None:
    conversation(database, clock, wrote_hours_ago=2, handoff=False)
    client = staff_client(app, database, "support")
    token = csrf_token(client, f"/admin/conversations/{PHONE}")
    client.post(f"/admin/conversations/{PHONE}/take-over", data={"csrf_token": token})
    with database.unit_of_work() as session:
        conv = session.get(Conversation, PHONE)
        assert conv is not None and conv.handoff is True


def test_the_simulator_chats_with_the_real_bot(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    token = csrf_token(client, "/admin/simulator")
    response = client.post("/admin/simulator", data={"csrf_token": token, "phone": "98765 43210", "text": "hi"})
    assert response.status_code == 302
    page = client.get("/admin/simulator").get_data(as_text=True)
    assert "bubble in" in page and "bubble out" in page
    assert "+919876543210" in page
    bad = client.post("/admin/simulator", data={"csrf_token": token, "phone": "", "text": "hi"})
    assert bad.status_code == 400


def test_a_username_only_chat_has_its_thread_and_staff_replies_go_to_the_user_id(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    from domain import user_ids

    user_id = "IN.5550987654321098765"
    with database.unit_of_work() as session:
        user_ids.enrol(session, user_id, "Meera Username", "en", clock.now())
        conv = conversations.load(session, user_id, clock.now())
        conv.last_inbound_at, conv.handoff, conv.handoff_at = clock.now(), True, clock.now()
    client = staff_client(app, database, "support")
    assert "Meera Username" in client.get("/admin/conversations").get_data(as_text=True)
    thread = client.get(f"/admin/conversations/{user_id}")
    assert thread.status_code == 200 and "Meera Username" in thread.get_data(as_text=True)
    token = csrf_token(client, f"/admin/conversations/{user_id}")
    client.post(f"/admin/conversations/{user_id}/reply", data={"csrf_token": token, "text": "Hello from the shop"})
    with database.unit_of_work() as session:
        sent = session.scalar(select(OutboxMessage).where(OutboxMessage.origin == "staff"))
    assert sent is not None and sent.phone == user_id


def test_a_member_without_a_phone_shows_the_user_id_in_the_console(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    from domain import user_ids

    with database.unit_of_work() as session:
        member, _ = user_ids.enrol(session, "IN.5550987654321098765", None, "en", clock.now())
        member_id = member.id
    client = staff_client(app, database, "support")
    for page in ("/admin/customers", f"/admin/customers/{member_id}"):
        text = client.get(page).get_data(as_text=True)
        assert "IN.5550987654321098765" in text and ">None<" not in text
    assert "/admin/conversations/IN.5550987654321098765" in client.get(f"/admin/customers/{member_id}").get_data(
        as_text=True
    )
