"""Points and history through ``bot.engine.handle``, in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain import orders
from domain.customers import Customer
from domain.db import Database
from domain.rules import load_rules
from tests.bot_chat import (
    LANGS,
    NOW,
    SEE,
    Chat,
    add_reward,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
def test_points_show_balance_tier_next_tier_expiry_and_owed(database: Database, lang: str) -> None:
    cid = make_customer(database, language=lang, points=125000, expires_at=NOW + dt.timedelta(days=10))
    with database.unit_of_work() as session:
        orders.record_order(
            session,
            orders.OrderData(
                erp_order_id="O1", customer_id=cid, order_date=NOW - dt.timedelta(days=5), net_amount=Decimal("5000")
            ),
            load_rules(session),
            NOW - dt.timedelta(days=5),
        )
        session.get_one(Customer, cid).points_owed = 7
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["points"])
    body = chat.text()
    assert "1,25,050" in body  # 125000 seeded + 50 earned, grouped the Indian way
    assert "₹20,000" in body  # 25,000 for gold less 5,000 spent
    assert SEE[lang]["gold"] in body
    assert ("25 Jun 2026" if lang == "en" else "25 जून 2026") in body
    assert ("7 points are owed" if lang == "en" else "7 अंक बकाया हैं") in body


@pytest.mark.parametrize("lang", LANGS)
def test_points_by_keyword_in_either_language(database: Database, lang: str) -> None:
    make_customer(database, language=lang, points=1)
    chat = Chat(database)
    chat.send("hi")
    chat.send("  BALANCE ")
    assert ("You have 1 point." if lang == "en" else "आपके पास 1 अंक है।") in chat.text()
    chat.send("अंक")
    assert "1" in chat.text() and chat.last[0].kind == "buttons"


@pytest.mark.parametrize("lang", LANGS)
def test_history_lists_the_last_entries_with_dates_and_signs(database: Database, lang: str) -> None:
    make_customer(database, language=lang, points=1200)
    add_reward(database, "Free coffee mug", 250)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Free coffee mug")
    chat.pick(SEE[lang]["confirm"])
    chat.send("history")
    body = chat.text()
    assert "+1,200" in body and "−250" in body
    assert ("Reward: Free coffee mug" if lang == "en" else "इनाम: Free coffee mug") in body
    assert ("15 Jun 2026" if lang == "en" else "15 जून 2026") in body
    assert ("Your last 2 entries:" if lang == "en" else "आपके पिछले 2 लेनदेन:") in body


def test_history_without_entries_says_so(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("history")
    assert "No points activity yet" in chat.text()
