"""Talking to a person: the conversation handed to staff, and what still reaches it."""

from __future__ import annotations

import pytest

from domain import consents
from domain.customers import Customer
from domain.db import Database
from tests.bot_chat import (
    LANGS,
    NOW,
    PHONE,
    SEE,
    Chat,
    load_conv,
    load_customer,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
def test_talk_to_a_person_hands_off_and_the_bot_stays_quiet_until_handed_back(database: Database, lang: str) -> None:
    from bot import api

    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["help"])
    chat.pick(SEE[lang]["person"])
    assert SEE[lang]["quiet"] in chat.text()
    conv = load_conv(database)
    assert conv.handoff and conv.handoff_at == NOW
    assert chat.send("points") == []
    assert chat.send("hello?", kind="text") == []
    with database.unit_of_work() as session:
        assert [c.phone for c in api.waiting(session)] == [PHONE]
        api.hand_back(session, PHONE, actor="staff@example.com", now=NOW)
    chat.send("points")
    assert chat.last and chat.last[0].kind == "buttons"


def test_stop_and_start_work_even_while_handed_off(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("agent")
    chat.send("STOP")
    assert "You will no longer get loyalty updates" in chat.text()
    assert load_customer(database).opted_in is False
    chat.send("start")
    assert "Welcome back!" in chat.text()
    assert load_customer(database).opted_in is True
    assert load_conv(database).handoff


def test_offers_off_works_while_handed_off_and_offers_on_waits_for_staff(database: Database) -> None:
    make_customer(database)
    with database.unit_of_work() as session:
        customer = session.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.record(session, customer, consents.MARKETING, True, channel="erp", now=NOW)
    assert load_customer(database).marketing_opt_in
    chat = Chat(database)
    chat.send("hi")
    chat.send("agent")
    assert chat.send("offers on") == []
    chat.send("offers off")
    assert chat.last, "a withdrawal is answered even while staff have the chat"
    assert load_customer(database).marketing_opt_in is False
    assert load_conv(database).handoff
