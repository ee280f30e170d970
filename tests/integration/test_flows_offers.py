"""Offers (marketing consent) in chat through ``bot.engine.handle``: the onboarding question, OFFERS,
OFFERS ON / OFF, STOP, and a minor's yes, with what each writes in the consent ledger."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import notice
from domain import consents, notices
from domain.consents import Consent
from domain.customers import Customer
from domain.db import Database
from tests.bot_chat import LANGS, NOW, PHONE, SEE, Chat, load_conv, load_customer, make_customer

SAY = {
    "en": {
        "offers": "offers",
        "on": "offers on",
        "off": "offers off",
        "yes": "Yes, send offers",
        "stop_offers": "Stop offers",
        "none": "You do not get our offers at the moment",
        "getting": "You get our offers on WhatsApp",
        "done_on": "we will send you our offers",
        "done_off": "OK, no offers",
        "already_off": "You do not get our offers. Type OFFERS ON",
        "already_on": "You already get our offers",
        "parent": "we need a parent's consent",
        "menu_row": "Offers",
    },
    "hi": {
        "offers": "ऑफ़र",
        "on": "ऑफ़र चालू",
        "off": "ऑफ़र बंद",
        "yes": "हाँ, ऑफ़र भेजें",
        "stop_offers": "ऑफ़र बंद करें",
        "none": "अभी आपको हमारे ऑफ़र नहीं मिलते",
        "getting": "आपको WhatsApp पर हमारे ऑफ़र मिलते हैं",
        "done_on": "हम आपको अपने ऑफ़र भेजेंगे",
        "done_off": "ठीक है, कोई ऑफ़र नहीं",
        "already_off": "आपको हमारे ऑफ़र नहीं मिलते।",
        "already_on": "आपको पहले से हमारे ऑफ़र मिल रहे हैं",
        "parent": "माता-पिता की सहमति चाहिए",
        "menu_row": "ऑफ़र",
    },
}


def rows(database: Database, purpose: str | None = None) -> list[Consent]:
    with database.unit_of_work() as s:
        customer = load_customer(database)
        found = consents.history(s, customer.id)
        return [r for r in found if purpose is None or r.purpose == purpose]


def joined_by_chat(database: Database, lang: str, answer: str) -> Chat:
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["lang_button"])
    chat.pick(SEE[lang]["yes_consent"])
    assert SEE[lang]["offers_q"] in chat.text()
    chat.pick(SEE[lang][answer])
    return chat


@pytest.mark.parametrize("lang", LANGS)
def test_a_yes_to_the_onboarding_question_is_its_own_ledger_row(database: Database, lang: str) -> None:
    chat = joined_by_chat(database, lang, "yes_offers")
    assert SAY[lang]["done_on"] in chat.text() and SEE[lang]["no_code"] in chat.titles()
    service, marketing = rows(database)
    assert (service.purpose, service.granted) == ("service", True)
    assert (marketing.purpose, marketing.granted, marketing.channel) == ("marketing", True, "whatsapp")
    assert (marketing.notice_version, marketing.language, marketing.recorded_at) == (notice.default_label(), lang, NOW)
    assert marketing.actor is None  # the member themself
    customer = load_customer(database)
    assert customer.opted_in and customer.marketing_opt_in and customer.marketing_changed_at == NOW


@pytest.mark.parametrize("lang", LANGS)
def test_no_thanks_is_recorded_as_a_no_and_onboarding_goes_on(database: Database, lang: str) -> None:
    chat = joined_by_chat(database, lang, "no_offers")
    assert SAY[lang]["done_off"] in chat.text()
    chat.pick(SEE[lang]["no_code"])
    assert SEE[lang]["menu_q"] in chat.text()
    assert [(r.purpose, r.granted) for r in rows(database)] == [("service", True), ("marketing", False)]
    customer = load_customer(database)
    assert customer.opted_in and not customer.marketing_opt_in
    assert load_conv(database).state == "menu"


def test_the_yes_carries_the_notice_version_the_member_was_shown(database: Database) -> None:
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")  # the consent question links the notice in force now
    chat.pick("Yes, please")
    with database.unit_of_work() as s:  # a new version is published before the member answers
        notices.publish(s, {"en": "## A\nB", "hi": "## क\nख"}, languages=("en", "hi"), actor="admin", now=NOW)
    chat.pick("Yes")
    assert [(r.purpose, r.notice_version) for r in rows(database)] == [
        ("service", notice.default_label()),
        ("marketing", notice.default_label()),
    ]
    chat.send("offers off")
    chat.send("offers on")
    assert rows(database)[-1].notice_version == "v1"  # asked later: the version in force then


def test_typing_anything_else_goes_on_without_consent_and_writes_nothing(database: Database) -> None:
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")
    chat.pick("Yes, please")
    chat.send("points")
    assert "Got a referral code" in chat.text()
    assert [r.purpose for r in rows(database)] == ["service"]
    assert load_customer(database).marketing_changed_at is None


def test_a_no_to_service_messages_is_not_followed_by_the_offers_question(database: Database) -> None:
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")
    chat.pick("No, thanks")
    assert "would you also like our offers" not in chat.text()
    assert [(r.purpose, r.granted) for r in rows(database)] == [("service", False)]


def test_offers_given_at_the_till_are_not_asked_again(database: Database) -> None:
    make_customer(database, opted_in=None)
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.record(s, customer, consents.MARKETING, True, channel="till", now=NOW, actor="till-1")
    chat = Chat(database)
    chat.send("hi")
    chat.pick("English")
    chat.pick("Yes, please")
    assert "would you also like our offers" not in chat.text() and "What would you like to do?" in chat.text()
    assert load_customer(database).marketing_opt_in


@pytest.mark.parametrize("lang", LANGS)
def test_a_member_switches_offers_on_and_off_with_the_keyword_and_buttons(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.send(SAY[lang]["offers"])
    assert SAY[lang]["none"] in chat.text() and f"/privacy?lang={lang}" in chat.text()
    chat.pick(SAY[lang]["yes"])
    assert SAY[lang]["done_on"] in chat.text()
    (given,) = rows(database, "marketing")
    assert (given.granted, given.channel, given.notice_version, given.language) == (
        True,
        "whatsapp",
        notice.default_label(),
        lang,
    )
    chat.send(SAY[lang]["offers"])
    assert SAY[lang]["getting"] in chat.text()
    chat.send(SAY[lang]["on"])
    assert SAY[lang]["already_on"] in chat.text()
    chat.now = NOW + dt.timedelta(days=3)
    chat.send(SAY[lang]["offers"])
    chat.pick(SAY[lang]["stop_offers"])
    assert SAY[lang]["done_off"] in chat.text()
    chat.send(SAY[lang]["off"])
    assert SAY[lang]["already_off"] in chat.text()
    assert [(r.granted, r.recorded_at) for r in rows(database, "marketing")] == [
        (True, NOW),
        (False, NOW + dt.timedelta(days=3)),
    ]
    customer = load_customer(database)
    assert not customer.marketing_opt_in and customer.opted_in  # the service updates did not change
    with database.unit_of_work() as s:
        assert consents.mismatches(s) == []
        assert set(s.scalars(consents.consented_at("marketing", NOW + dt.timedelta(days=1)))) == {customer.id}
        assert set(s.scalars(consents.consented_at("marketing", NOW + dt.timedelta(days=4)))) == set()


def test_offers_off_right_after_yes_withdraws(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("offers on")
    chat.send("OFFERS OFF")
    assert "OK, no offers" in chat.text()
    assert [r.granted for r in rows(database, "marketing")] == [True, False]
    assert load_conv(database).state == "menu"


def test_stop_still_withdraws_offers_too_and_start_brings_back_only_the_updates(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("offers on")
    chat.send("STOP")
    customer = load_customer(database)
    assert not customer.opted_in and not customer.marketing_opt_in
    assert [(r.purpose, r.granted, r.channel) for r in rows(database)][-2:] == [
        ("service", False, "whatsapp"),
        ("marketing", False, "whatsapp"),
    ]
    chat.send("START")
    customer = load_customer(database)
    assert customer.opted_in and not customer.marketing_opt_in  # offers need their own yes again
    chat.send("offers")
    assert "You do not get our offers at the moment" in chat.text()


@pytest.mark.parametrize("lang", LANGS)
def test_a_minors_yes_asks_for_a_parents_consent_and_records_nothing(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.set_birthday(s, customer, dt.date(2011, 3, 4), channel="erp", now=NOW)
    chat = Chat(database)
    chat.send("hi")
    chat.send(SAY[lang]["on"])
    assert SAY[lang]["parent"] in chat.text()
    chat.send(SAY[lang]["offers"])
    chat.pick(SAY[lang]["yes"])
    assert SAY[lang]["parent"] in chat.text()
    assert rows(database, "marketing") == [] and not load_customer(database).marketing_opt_in
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.record(
            s, customer, consents.GUARDIAN, True, channel="console", now=NOW, actor="staff (saw the father)"
        )
    chat.send(SAY[lang]["on"])
    assert SAY[lang]["done_on"] in chat.text() and load_customer(database).marketing_opt_in


def test_a_member_the_till_enrolled_can_say_no_before_onboarding(database: Database) -> None:
    make_customer(database, opted_in=None)
    chat = Chat(database)
    chat.send("no offers")
    assert "OK, no offers" in chat.text()
    assert [(r.purpose, r.granted) for r in rows(database)] == [("marketing", False)]
    assert load_conv(database).state == "start"
    chat.send("hi")
    assert chat.titles() == ["English", "हिन्दी"]  # onboarding starts as usual


@pytest.mark.parametrize("lang", LANGS)
def test_the_menu_and_help_list_offers(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("menu")
    assert SAY[lang]["menu_row"] in chat.titles()
    chat.pick(SAY[lang]["menu_row"])
    assert SAY[lang]["none"] in chat.text()
    chat.send(SEE[lang]["help"])
    assert ("OFFERS ON" if lang == "en" else "ऑफ़र चालू") in chat.text()


def test_the_phone_of_the_chat_is_the_members(database: Database) -> None:
    """The rows above belong to the member who wrote, not to anyone else."""
    make_customer(database)
    make_customer(database, "+919876543210", name="Ravi Kumar")
    Chat(database).send("offers on")
    with database.unit_of_work() as s:
        marketed = set(s.scalars(consents.consented_at("marketing", NOW + dt.timedelta(minutes=1))))
    assert marketed == {load_customer(database, PHONE).id}
