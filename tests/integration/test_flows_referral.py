"""Refer a friend and the affiliate program through ``bot.engine.handle``, in both languages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot import business_number
from domain import affiliates, orders
from domain.customers import Customer, NewCustomer, enrol
from domain.db import Database
from domain.rules import load_rules
from tests.bot_chat import (
    FRIEND,
    LANGS,
    NOW,
    PHONE,
    SEE,
    Chat,
    load_customer,
    make_customer,
)
from tests.fakes import FrozenClock


@pytest.mark.parametrize("lang", LANGS)
def test_refer_gives_code_and_wa_me_link(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    code = load_customer(database).referral_code
    chat = Chat(database, config={"WHATSAPP_DISPLAY_NUMBER": "+91 98000-12345"})
    chat.send("hi")
    chat.pick(SEE[lang]["refer"])
    assert f"https://wa.me/919800012345?text=JOIN%20{code}" in chat.text()
    assert code in chat.text()


@pytest.mark.parametrize("lang", LANGS)
def test_refer_without_a_business_number_gives_the_code_to_type_not_a_broken_link(
    database: Database, lang: str
) -> None:
    make_customer(database, language=lang)
    code = load_customer(database).referral_code
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["refer"])
    assert "wa.me" not in chat.text()  # https://wa.me/?text=... opens no chat
    assert f"JOIN {code}" in chat.text()
    assert ("not available yet" if lang == "en" else "अभी उपलब्ध नहीं") in chat.text()


def test_refer_uses_the_number_read_from_the_graph_api(database: Database, clock: FrozenClock) -> None:
    make_customer(database)
    code = load_customer(database).referral_code
    with database.unit_of_work() as session:
        business_number.refresh(session, Lookup({"display_phone_number": "+1 555-096-7852"}), clock.now(), {})
    chat = Chat(database)
    chat.send("hi")
    chat.send("refer")
    assert f"https://wa.me/15550967852?text=JOIN%20{code}" in chat.text()


@dataclass
class Lookup:
    answer: dict[str, str]

    def business_number(self) -> dict[str, str]:
        return self.answer


@pytest.mark.parametrize("lang", LANGS)
def test_affiliate_apply_then_pending(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["affiliate"])
    assert "5%" in chat.text()
    chat.pick(SEE[lang]["apply"])
    with database.unit_of_work() as session:
        partner = session.scalars(select(affiliates.Affiliate)).one()
        assert (partner.status, partner.phone, partner.name) == ("pending", PHONE, "Asha Verma")
    chat.send("affiliate")
    assert ("being reviewed" if lang == "en" else "समीक्षा हो रही है") in chat.text()


@pytest.mark.parametrize("lang", LANGS)
def test_an_approved_affiliate_sees_link_and_figures(database: Database, lang: str) -> None:
    cid = make_customer(database, language=lang)
    with database.unit_of_work() as session:
        rules = load_rules(session)
        customer = session.get_one(Customer, cid)
        partner = affiliates.apply(session, name="Asha", phone=PHONE, now=NOW, rules=rules, customer=customer)
        affiliates.decide(session, partner.id, "approved", actor="test", now=NOW)
        buyer, _ = enrol(session, NewCustomer(phone=FRIEND, name="Ravi"), NOW)
        affiliates.attribute(session, buyer, partner, NOW, is_new=True)
        code = partner.code
    with database.unit_of_work() as session:
        orders.record_order(
            session,
            orders.OrderData(erp_order_id="A1", customer_id=buyer.id, order_date=NOW, net_amount=Decimal("250000")),
            load_rules(session),
            NOW,
        )
    chat = Chat(database, config={"WHATSAPP_DISPLAY_NUMBER": "+91 98000-12345"})
    chat.send("hi")
    chat.send("affiliate")
    body = chat.text()
    assert f"https://wa.me/919800012345?text=JOIN%20{code}" in body
    assert "₹12,500" in body  # 5% of 2,50,000, pending
    assert ("Sign-ups: 1" if lang == "en" else "जुड़े ग्राहक: 1") in body
    assert ("First purchases: 1" if lang == "en" else "पहली खरीदारी: 1") in body


def test_an_affiliate_without_a_business_number_gets_the_code_to_pass_on(database: Database) -> None:
    cid = make_customer(database)
    with database.unit_of_work() as session:
        customer = session.get_one(Customer, cid)
        partner = affiliates.apply(
            session, name="Asha", phone=PHONE, now=NOW, rules=load_rules(session), customer=customer
        )
        affiliates.decide(session, partner.id, "approved", actor="test", now=NOW)
        code = partner.code
    chat = Chat(database)
    chat.send("hi")
    chat.send("affiliate")
    assert "wa.me" not in chat.text() and f"send JOIN {code}" in chat.text()
