"""Proactive messages (``bot.notify.render``) and the console's ``bot.api``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot import api, conversations, notify
from bot.messages import Template
from bot.models import Conversation, OutboxMessage
from domain.audit import AuditEntry
from domain.customers import Customer
from domain.db import Database
from domain.errors import ValidationError
from domain.notifications import Notification
from domain.rules import ProgramRules, save_rules
from tests.bot_chat import NOW, PHONE, Chat, make_customer

CASES: list[tuple[str, dict[str, Any], dict[str, str], tuple[str, ...]]] = [
    (
        "points_earned",
        {"points": 1250, "bill_no": "B1001", "amount": "125000.00", "balance": 125000},
        {"en": "You earned 1,250 points on bill B1001.", "hi": "बिल B1001 पर आपने 1,250 अंक कमाए।"},
        ("Asha", "1,250", "B1001", "1,25,000"),
    ),
    (
        "tier_changed",
        {"from": "silver", "to": "gold", "upgrade": True},
        {"en": "Congratulations! You are now a Gold member.", "hi": "बधाई हो! अब आप गोल्ड सदस्य हैं।"},
        ("Asha", "{tier}"),
    ),
    (
        "points_expiring",
        {"points": 1, "expires_at": "2026-06-30T20:00:00+00:00"},
        {"en": "1 point expires on 1 Jul 2026.", "hi": "1 अंक 1 जुल॰ 2026 को समाप्त होगा।"},
        ("Asha", "1", "{date}"),
    ),
    (
        "voucher_issued",
        {"reward": "Free coffee mug", "code": "ABCD-EFGH-JKMN", "expires_at": "2026-07-15T10:00:00+00:00"},
        {"en": "Your voucher for Free coffee mug:", "hi": "Free coffee mug के लिए आपका वाउचर:"},
        ("Asha", "Free coffee mug", "ABCD-EFGH-JKMN", "{date}"),
    ),
    (
        "referral_bonus",
        {"points": 100, "role": "referrer", "friend": "Ravi"},
        {"en": "you earned 100 points", "hi": "आपने 100 अंक कमाए"},
        ("Asha", "100"),
    ),
    (
        "points_returned",
        {"points": 30, "bill_no": "B7", "balance": 970},
        {
            "en": "30 points were taken back for the return on bill B7.",
            "hi": "बिल B7 की वापसी के लिए 30 अंक वापस लिए गए।",
        },
        ("Asha", "30", "B7", "970"),
    ),
]
DATES = {
    "en": {"2026-07-15": "15 Jul 2026", "2026-06-30": "1 Jul 2026"},
    "hi": {"2026-07-15": "15 जुल॰ 2026", "2026-06-30": "1 जुल॰ 2026"},
}


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize(("kind", "payload", "says", "params"), CASES)
def test_render_gives_the_in_window_reply_and_the_template(
    database: Database, lang: str, kind: str, payload: dict[str, Any], says: dict[str, str], params: tuple[str, ...]
) -> None:
    cid = make_customer(database, language=lang)
    with database.unit_of_work() as session:
        customer = session.get_one(Customer, cid)
        note = Notification(customer_id=cid, kind=kind, payload=payload, idempotency_key=f"k:{kind}", created_at=NOW)
        reply, template = notify.render(session, note, customer, {"DEFAULT_LOCALE": "en_IN"})
    assert reply.kind == "text" and says[lang] in reply.body
    assert isinstance(template, Template)
    assert template.name == ProgramRules().templates.get(kind, kind) and template.language == lang
    assert all(isinstance(p, str) for p in template.params)
    date = DATES[lang]["2026-07-15" if kind == "voucher_issued" else "2026-06-30"]
    tier = "Gold" if lang == "en" else "गोल्ड"
    assert template.params == tuple(p.replace("{date}", date).replace("{tier}", tier) for p in params)


def test_template_names_come_from_the_program_rules(database: Database) -> None:
    cid = make_customer(database)
    with database.unit_of_work() as session:
        rules = ProgramRules(templates={**ProgramRules().templates, "points_earned": "loyalty_points_v2"})
        save_rules(session, rules, actor="test")
    with database.unit_of_work() as session:
        note = Notification(
            customer_id=cid, kind="points_earned", payload={"points": 5}, idempotency_key="k", created_at=NOW
        )
        _, template = notify.render(session, note, session.get_one(Customer, cid), {})
    assert template.name == "loyalty_points_v2"


def test_simulate_drives_the_engine_and_numbers_answer_the_last_options(database: Database) -> None:
    make_customer(database, points=7)
    with database.unit_of_work() as session:
        session.scalars(select(Customer)).one().is_test = True  # the simulator acts on test members only
    with database.unit_of_work() as session:
        first = api.simulate(session, "98123 45678", "hi", NOW, {}, actor="staff@example.com")
    assert first[-1].kind == "list"
    with database.unit_of_work() as session:
        replies = api.simulate(session, PHONE, "1", NOW, {}, actor="staff@example.com")
    assert "You have 7 points." in replies[0].body


def test_staff_reply_needs_the_window_and_takes_over(database: Database) -> None:
    make_customer(database)
    Chat(database).send("hi")
    with database.unit_of_work() as session, pytest.raises(ValidationError, match="24 hours"):
        api.staff_reply(session, PHONE, "Hello from the shop", actor="staff@example.com", now=NOW)
    with database.unit_of_work() as session:
        session.get_one(Conversation, PHONE).last_inbound_at = NOW - dt.timedelta(hours=2)
    with database.unit_of_work() as session:
        row = api.staff_reply(session, PHONE, "Hello from the shop", actor="staff@example.com", now=NOW)
        assert (row.origin, row.kind, row.payload["body"]) == ("staff", "text", "Hello from the shop")
    with database.unit_of_work() as session:
        conv = session.get_one(Conversation, PHONE)
        assert conv.handoff and conv.handoff_at == NOW
        actions = session.scalars(select(AuditEntry.action)).all()
        assert "conversation.reply" in actions


def test_take_over_and_hand_back_are_audited_and_the_customer_is_told(database: Database) -> None:
    make_customer(database)
    Chat(database).send("hi")
    with database.unit_of_work() as session:
        session.get_one(Conversation, PHONE).last_inbound_at = NOW
        api.take_over(session, PHONE, actor="staff@example.com", now=NOW)
    with database.unit_of_work() as session:
        assert [c.phone for c in api.waiting(session)] == [PHONE]
        api.hand_back(session, PHONE, actor="staff@example.com", now=NOW + dt.timedelta(minutes=5))
    with database.unit_of_work() as session:
        assert api.waiting(session) == []
        told = session.scalars(select(OutboxMessage).where(OutboxMessage.phone == PHONE)).all()
        assert [m.payload["body"] for m in told] == [
            "You are chatting with our assistant again. Send MENU to see what it can do."
        ]
        actions = set(session.scalars(select(AuditEntry.action)).all())
        assert {"conversation.take_over", "conversation.hand_back"} <= actions


def test_waiting_lists_the_longest_waiting_first(database: Database) -> None:
    for n, phone in enumerate(["+919812345671", "+919812345672"]):
        with database.unit_of_work() as session:
            conversations.load(session, phone, NOW)  # only a number that wrote has a conversation to take
            api.take_over(session, phone, actor="s", now=NOW - dt.timedelta(minutes=n))
    with database.unit_of_work() as session:
        assert [c.phone for c in api.waiting(session)] == ["+919812345672", "+919812345671"]


def test_thread_merges_both_directions_in_time_order(database: Database) -> None:
    from bot import pipeline
    from bot.messages import Incoming

    make_customer(database)
    with database.unit_of_work() as session:
        pipeline.process(session, Incoming(message_id="wamid.1", phone=PHONE, kind="text", text="hi"), NOW, {})
    with database.unit_of_work() as session:
        pipeline.process(
            session, Incoming(message_id="wamid.2", phone=PHONE, kind="image"), NOW + dt.timedelta(seconds=5), {}
        )
    with database.unit_of_work() as session:
        messages = api.thread(session, PHONE)
        last_two = api.thread(session, PHONE, limit=2)
    assert [(m["direction"], m["text"].split("\n")[0]) for m in messages] == [
        ("in", "hi"),
        ("out", "Hello Asha, welcome back!"),
        ("in", "[image]"),
        ("out", "Thanks! I can only read text and buttons, but I can help you with your points."),
    ]
    assert "What would you like to do?" in messages[1]["text"] and "My points" in messages[1]["text"]
    assert {m["status"] for m in messages if m["direction"] == "out"} <= {"queued", "sending"}  # nothing sent here
    assert {m["status"] for m in messages if m["direction"] == "in"} == {"handled"}
    assert last_two == messages[-2:]
