"""First contact through ``bot.engine.handle``: the language, consent and a referral code, in both languages."""

from __future__ import annotations

import pytest

from domain.db import Database
from tests.bot_chat import (
    FRIEND,
    LANGS,
    NOW,
    SEE,
    Chat,
    load_conv,
    load_customer,
    make_customer,
)


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_number_is_greeted_asked_language_consent_and_code_then_enrolled(database: Database, lang: str) -> None:
    chat = Chat(database)
    first = chat.send("Hello")
    assert len(first) == 1 and first[0].kind == "buttons"
    assert "Welcome to our loyalty club" in first[0].body and "लॉयल्टी क्लब" in first[0].body
    assert chat.titles() == ["English", "हिन्दी"]
    chat.pick(SEE[lang]["lang_button"])
    assert chat.titles() == [SEE[lang]["yes_consent"], SEE[lang]["no_consent"]]
    chat.pick(SEE[lang]["yes_consent"])
    assert SEE[lang]["offers_q"] in chat.text()  # its own question, after the service one
    assert chat.titles() == [SEE[lang]["yes_offers"], SEE[lang]["no_offers"]]
    chat.pick(SEE[lang]["no_offers"])
    assert SEE[lang]["no_code"] in chat.titles()
    chat.pick(SEE[lang]["no_code"])
    assert SEE[lang]["menu_q"] in chat.text()
    customer = load_customer(database)
    assert (customer.source, customer.language, customer.name) == ("whatsapp", lang, "Asha Verma")
    assert customer.opted_in and customer.opt_in_source == "whatsapp" and customer.opt_in_changed_at == NOW
    assert load_conv(database).state == "menu"


def test_refusing_consent_still_enrols_but_records_the_no(database: Database) -> None:
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")
    chat.send("no")
    customer = load_customer(database)
    assert customer.opted_in is False and customer.opt_in_changed_at == NOW
    assert "Send START if you change your mind" in chat.text()


def test_a_customer_the_erp_knows_is_greeted_by_name_without_questions(database: Database) -> None:
    make_customer(database, language="hi", name="Ravi Kumar")
    chat = Chat(database)
    chat.send("hi")
    assert "नमस्ते Ravi, फिर से स्वागत है!" in chat.text()
    assert SEE["hi"]["menu_q"] in chat.text()
    assert load_conv(database).language == "hi"


def test_a_known_customer_without_consent_is_asked_only_language_and_consent(database: Database) -> None:
    make_customer(database, opted_in=None)
    chat = Chat(database)
    chat.send("hi")
    assert "Hello Asha! Welcome to our loyalty club." in chat.text()
    chat.pick("English")
    chat.pick("Yes, please")
    chat.pick("No thanks")
    assert "Got a referral code" not in chat.text()  # joined 200 days ago: too late to be referred
    assert "What would you like to do?" in chat.text()
    customer = load_customer(database)
    assert customer.source == "erp" and customer.opted_in


@pytest.mark.parametrize("lang", LANGS)
def test_join_code_as_first_message_attributes_the_new_customer(database: Database, lang: str) -> None:
    referrer_id = make_customer(database, FRIEND, name="Ravi Kumar")
    code = load_customer(database, FRIEND).referral_code
    chat = Chat(database)
    chat.send(f"JOIN {code}")
    chat.pick(SEE[lang]["lang_button"])
    chat.pick(SEE[lang]["yes_consent"])
    chat.pick(SEE[lang]["yes_offers"])
    assert SEE[lang]["accepted"] in chat.text()
    assert "₹500" in chat.text()
    assert load_customer(database).referred_by_id == referrer_id


def test_a_code_typed_when_asked_is_applied_and_refusals_are_explained(database: Database) -> None:
    make_customer(database, FRIEND, name="Ravi Kumar")
    code = load_customer(database, FRIEND).referral_code
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")
    chat.pick("Yes, please")
    chat.pick("No thanks")
    chat.pick("Yes, I have one")
    chat.send("NOPE99")
    assert "We could not find that code" in chat.text()
    chat.send(f"join {code.lower()}")
    assert "Code accepted" in chat.text()
    chat.send(f"JOIN {code}")
    assert "You have already joined with a referral code." in chat.text()
    own = load_customer(database).referral_code
    friend = Chat(database, FRIEND)
    friend.send(f"JOIN {own}")
    assert "welcome back" in friend.text()


def test_a_referral_from_a_wa_me_link_is_kept_through_onboarding(database: Database) -> None:
    make_customer(database, FRIEND, name="Ravi Kumar")
    code = load_customer(database, FRIEND).referral_code
    chat = Chat(database)
    chat.send("Hello", referral_code=code)
    chat.pick("English")
    chat.pick("Yes, please")
    chat.send("maybe later, thanks")  # anything but a yes or a no goes on, without consent to offers
    assert "Code accepted" in chat.text()
    assert not load_customer(database).marketing_opt_in
