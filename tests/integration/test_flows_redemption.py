"""Rewards and redemption through ``bot.engine.handle``: the catalog, picking, confirming, vouchers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import Conversation
from domain import rewards
from domain.customers import Customer
from domain.db import Database
from domain.notifications import Notification
from tests.bot_chat import (
    LANGS,
    PHONE,
    SEE,
    Chat,
    add_reward,
    load_customer,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
def test_rewards_list_pick_confirm_and_voucher(database: Database, lang: str) -> None:
    cid = make_customer(database, language=lang, points=300)
    add_reward(database, "Free coffee mug", 250, stock=5)
    add_reward(database, "Weekend spa voucher for two people", 2000)
    add_reward(database, "Umbrella", 100, stock=0)
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["rewards"])
    rows = {r.title: r.description or "" for s in chat.last[0].sections for r in s.rows}
    assert "✓" in rows["Free coffee mug"]
    assert SEE[lang]["sold_out"] in rows["Umbrella"]
    assert "1,700" in rows["Weekend spa voucher for…"]
    chat.pick("Free coffee mug")
    assert chat.titles() == [SEE[lang]["confirm"], SEE[lang]["cancel"]]
    chat.pick(SEE[lang]["confirm"])
    assert SEE[lang]["voucher"] in chat.text()
    with database.unit_of_work() as session:
        redemption = session.scalars(select(rewards.Redemption)).one()
        assert redemption.voucher_code in chat.text()
        assert session.get_one(Customer, cid).points_balance == 50
        note = session.scalars(select(Notification).where(Notification.kind == "voucher_issued")).one()
        assert note.status == "skipped"  # the voucher is already in the chat


def test_a_redelivered_confirmation_does_not_redeem_twice(database: Database) -> None:
    cid = make_customer(database, points=600)
    reward_id = add_reward(database, "Free coffee mug", 250)
    chat = Chat(database)
    chat.send("hi")
    chat.send("rewards")
    chat.pick("Free coffee mug")
    chat.pick("Yes, redeem", message_id="wamid.confirm-1")
    first = chat.text()
    with database.unit_of_work() as session:  # as if a second worker still saw the confirm step
        conv = session.get_one(Conversation, PHONE)
        conv.state, conv.data = "confirm", {"reward_id": reward_id}
    chat.send("Yes, redeem", button="confirm:yes", message_id="wamid.confirm-1")
    with database.unit_of_work() as session:
        assert len(session.scalars(select(rewards.Redemption)).all()) == 1
        assert session.get_one(Customer, cid).points_balance == 350
    code = first.split("*")[1]
    assert code in chat.text()


@pytest.mark.parametrize("lang", LANGS)
def test_not_enough_points_says_how_many_more(database: Database, lang: str) -> None:
    make_customer(database, language=lang, points=40)
    add_reward(database, "Free coffee mug", 250)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Free coffee mug")
    expected = "so you need 210 more." if lang == "en" else "इसलिए आपको 210 और चाहिए।"
    assert expected in chat.text()
    assert load_customer(database).points_balance == 40


def test_sold_out_and_per_customer_limit_are_explained(database: Database) -> None:
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100, stock=0)
    add_reward(database, "Free coffee mug", 250, limit=1)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    assert "Sorry, Umbrella is sold out." in chat.text()
    chat.pick("Other rewards")
    chat.pick("Free coffee mug")
    chat.pick("Yes, redeem")
    chat.send("redeem")
    assert "limit reached" in " ".join(r.description or "" for s in chat.last[0].sections for r in s.rows)
    chat.pick("Free coffee mug")
    assert "can be redeemed 1 time per customer" in chat.text()


def test_stock_gone_between_pick_and_confirm_is_explained(database: Database) -> None:
    make_customer(database, points=1000)
    reward_id = add_reward(database, "Umbrella", 100, stock=1)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    with database.unit_of_work() as session:
        session.get_one(rewards.Reward, reward_id).stock = 0
    chat.pick("Yes, redeem")
    assert "Sorry, Umbrella is sold out." in chat.text()
    assert load_customer(database).points_balance == 1000


def test_cancel_redeems_nothing(database: Database) -> None:
    make_customer(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    chat.pick("Umbrella")
    chat.pick("Cancel")
    assert "nothing was redeemed" in chat.text()
    assert load_customer(database).points_balance == 1000


def test_a_long_catalog_is_paged(database: Database) -> None:
    make_customer(database, points=10)
    for n in range(12):
        add_reward(database, f"Reward {n:02d}", 100 + n)
    chat = Chat(database)
    chat.send("hi")
    chat.send("redeem")
    assert len(chat.titles()) == 10 and chat.titles()[-1] == "More rewards"
    chat.pick("More rewards")
    assert chat.titles() == ["Reward 09", "Reward 10", "Reward 11", "More rewards"]
    chat.pick("More rewards")  # after the last page, back to the first
    assert chat.titles()[0] == "Reward 00"
