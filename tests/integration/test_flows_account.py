"""STOP, START and changing the language through ``bot.engine.handle``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.customers import Customer
from domain.db import Database
from tests.bot_chat import (
    LANGS,
    SEE,
    Chat,
    load_customer,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
def test_stop_and_start_keywords_in_both_languages(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.send("रोकें" if lang == "hi" else "Stop")
    assert SEE[lang]["stopped"] in chat.text()
    customer = load_customer(database)
    assert not customer.opted_in and customer.opt_in_source == "whatsapp"
    chat.send("शुरू" if lang == "hi" else "START")
    assert SEE[lang]["restarted"] in chat.text()
    assert load_customer(database).opted_in


def test_stop_from_an_unknown_number_is_answered_and_enrols_no_one(database: Database) -> None:
    chat = Chat(database)
    chat.send("STOP")
    assert "You will no longer get loyalty updates" in chat.text()
    with database.unit_of_work() as session:
        assert session.scalars(select(Customer)).all() == []


def test_language_can_be_changed_later(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("language")
    chat.pick("हिन्दी")
    assert "हिन्दी में" in chat.text() and SEE["hi"]["menu_q"] in chat.text()
    assert load_customer(database).language == "hi"
