"""The engine around the flows: anything not understood, typed choices, idle flows, restarts, errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot import engine
from bot.messages import Incoming, Reply
from domain.db import Database
from domain.rules import load_rules
from tests.bot_chat import (
    CONFIG,
    LANGS,
    NOW,
    PHONE,
    SEE,
    Chat,
    add_reward,
    load_conv,
    load_customer,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", ["image", "sticker", "location", "audio"])
def test_media_gets_a_short_answer_and_the_menu(database: Database, lang: str, kind: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    replies = chat.send(kind=kind)
    assert len(replies) == 1 and replies[0].kind == "list"
    assert SEE[lang]["media"] in replies[0].body and SEE[lang]["menu_q"] in replies[0].body


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_text_gets_a_short_answer_and_the_menu(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.send("what is the weather like")
    assert SEE[lang]["unknown"] in chat.text() and chat.last[0].kind == "list"


def test_a_typed_number_or_title_answers_the_last_options(database: Database) -> None:
    make_customer(database, points=5)
    chat = Chat(database)
    chat.send("hi")
    chat.send("1")  # "My points" is the first row of the menu
    assert "You have 5 points." in chat.text()
    chat.send("history")  # buttons: My points, Menu
    chat.send("my points")
    assert "You have 5 points." in chat.text()


def test_a_flow_left_idle_goes_back_to_the_menu(database: Database) -> None:
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    assert load_conv(database).state == "confirm"
    chat.now = NOW + dt.timedelta(minutes=31)
    chat.send("Yes, redeem", button="confirm:yes")
    assert "What would you like to do?" in chat.text()
    assert load_customer(database).points_balance == 1000
    assert load_conv(database).state == "menu"


def test_a_flow_within_the_idle_time_continues(database: Database) -> None:
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    chat.now = NOW + dt.timedelta(minutes=29)
    chat.pick("Yes, redeem")
    assert load_customer(database).points_balance == 900


def test_the_conversation_survives_a_restart(database: Database) -> None:
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    restarted = Database(database.url)  # a new process: new engine, nothing in memory
    try:
        again = Chat(restarted)
        again.send("2")  # the typed number answers the confirm buttons stored on the row
        assert "Done!" not in again.text()  # "2" is Cancel
        assert "nothing was redeemed" in again.text()
    finally:
        restarted.dispose()


def test_flood_notice_is_in_the_customers_language(database: Database) -> None:
    make_customer(database, language="hi")
    Chat(database).send("hi")
    with database.unit_of_work() as session:
        notice = engine.flood_notice(session, PHONE)
        unknown = engine.flood_notice(session, "+919000000001")
    assert notice.kind == "text" and "बहुत तेज़ी से" in notice.body
    assert "very quickly" in unknown.body


def test_every_reply_of_every_flow_is_recorded_with_its_options(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    conv = load_conv(database)
    assert conv.data["options"][0] == ["cmd:points", "My points"]
    assert conv.data["at"] == NOW.isoformat()
    assert conv.customer_id is not None


def test_a_new_flow_is_one_more_row_and_its_buttons_reach_it_in_any_state(database: Database, monkeypatch: Any) -> None:
    """Buttons on a message sent outside the chat (a survey's answer) reach their command's handler
    whatever the customer was last asked; nothing but the table knows the new flow."""
    from bot import replies as rp
    from bot.flows import table
    from bot.flows.turn import Turn
    from bot.keywords import Command

    def confirm(turn: Turn) -> list[Reply]:
        seen.append((turn.conv.state, turn.command, turn.choice))
        turn.goto("menu")
        return [rp.text("Confirmed.")]

    seen: list[tuple[str, Command | None, str | None]] = []
    rows = {**table.COMMANDS, "survey": table.Command(confirm, words=("my survey",), buttons=("survey:",))}
    monkeypatch.setattr(engine, "TABLE", table.Table(rows, table.STATES))
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    chat.send("Great", button="survey:great:7")
    assert seen == [("confirm", Command("survey", "survey:great:7"), None)]
    assert chat.text() == "Confirmed." and load_conv(database).state == "menu"
    chat.send("My survey")
    assert seen[-1] == ("menu", Command("survey"), None)
    chat.send("points")
    assert "You have 1,000 points." in chat.text()


def test_a_domain_error_in_a_flow_is_undone_and_answered_politely(database: Database, monkeypatch: Any) -> None:
    from bot.flows import table
    from bot.flows.turn import Turn
    from domain.errors import ValidationError

    make_customer(database)

    def broken(turn: Turn) -> list[Reply]:
        turn.require_customer().name = "Changed"
        raise ValidationError("something the domain refused")

    monkeypatch.setitem(table.COMMANDS, "history", dataclasses.replace(table.COMMANDS["history"], handler=broken))
    chat = Chat(database)
    chat.send("hi")
    chat.send("history")
    assert chat.text() == "Sorry, that did not work. Please try again or type HELP."
    assert load_customer(database).name == "Asha Verma"  # the handler's write was rolled back
    assert load_conv(database).state == "menu"
    chat.send("points")
    assert "You have 0 points." in chat.text()


def test_a_domain_error_on_the_handlers_path_is_rolled_back_and_run_again_in_a_savepoint(
    database: Database, monkeypatch: Any
) -> None:
    """Handler threads run flows without a savepoint; a domain error rolls the whole message back and
    handles it again guarded, so its writes are undone and the customer gets the polite answer once."""
    from bot import pipeline
    from bot.flows import table
    from bot.flows.turn import Turn
    from bot.models import InboundMessage, OutboxMessage
    from domain.errors import ValidationError

    make_customer(database)
    Chat(database).send("hi")
    calls: list[str] = []

    def broken(turn: Turn) -> list[Reply]:
        calls.append(turn.conv.state)
        turn.require_customer().name = "Changed"
        turn.conv.language = "hi"
        turn.goto("reward_confirm")
        raise ValidationError("something the domain refused")

    monkeypatch.setitem(table.COMMANDS, "history", dataclasses.replace(table.COMMANDS["history"], handler=broken))
    incoming = Incoming(message_id="wamid.guarded", phone=PHONE, kind="text", text="history")
    with database.unit_of_work() as session:
        stored = pipeline.store_received(session, incoming, NOW)
    assert stored is not None

    handled, rows = pipeline.handle_next(database, PHONE, stored.inbound_id, NOW, CONFIG)

    assert handled == stored.inbound_id
    assert calls == ["menu", "menu"]  # unguarded first, then again in a savepoint
    assert load_customer(database).name == "Asha Verma"
    conv = load_conv(database)
    assert (conv.state, conv.language) == ("menu", "en")  # the handler's changes to the row were undone too
    assert conv.last_inbound_at == NOW
    with database.unit_of_work() as session:
        assert session.scalar(select(InboundMessage.status).where(InboundMessage.id == handled)) == "handled"
        bodies = [
            m.payload.get("body") for m in session.scalars(select(OutboxMessage).where(OutboxMessage.phone == PHONE))
        ]
    assert [row.message.body for row in rows] == ["Sorry, that did not work. Please try again or type HELP."]
    assert bodies[-1] == rows[0].message.body


def test_dates_in_replies_follow_the_time_zone_of_the_program_rules(database: Database) -> None:
    """The console's time zone decides both which day a campaign falls on and the dates the bot shows."""
    from domain.rules import save_rules

    make_customer(database, points=100)  # earned 2025-11-27 10:00 UTC: still the 27th in India, the 28th at UTC+14
    with database.unit_of_work() as session:
        save_rules(session, dataclasses.replace(load_rules(session), timezone="Pacific/Kiritimati"), "test")
    chat = Chat(database)
    chat.send("hi")
    chat.send("history")
    assert "28 Nov 2025 · Adjustment · +100" in chat.text()
