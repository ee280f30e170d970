"""The birthday in chat through ``bot.engine.handle``: BIRTHDAY, the date typed, refusals, minors, the
offer as onboarding ends, and what "my data" shows."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.texts import texts_for
from domain import consents, data_export
from domain.birthdays import NO_YEAR
from domain.customers import Customer
from domain.db import Database
from tests.bot_chat import LANGS, NOW, SEE, Chat, load_conv, load_customer, make_customer

SAY = {
    "en": {
        "birthday": "birthday",
        "ask": "When is your birthday?",
        "saved": "We have saved your birthday",
        "unreadable": "I could not read that as a date",
        "future": "That date is in the future",
        "too_old": "That date is too long ago",
        "known": "We have your birthday as",
        "minor": "As you are under 18, we have stopped our offers",
        "add": "Add my birthday",
        "my_data": "my data",
    },
    "hi": {
        "birthday": "जन्मदिन",
        "ask": "आपका जन्मदिन कब है?",
        "saved": "हमने आपका जन्मदिन सहेज लिया है",
        "unreadable": "मैं इसे तारीख़ के रूप में नहीं पढ़ पाया",
        "future": "यह तारीख़ भविष्य की है",
        "too_old": "यह तारीख़ बहुत पुरानी है",
        "known": "हमारे पास आपका जन्मदिन",
        "minor": "आपकी उम्र 18 साल से कम है, इसलिए हमने आपको ऑफ़र भेजना बंद कर दिया है",
        "add": "मेरा जन्मदिन जोड़ें",
        "my_data": "मेरा डेटा",
    },
}


def member_chat(database: Database, lang: str = "en") -> Chat:
    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    return chat


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("typed", "stored"),
    [("14-08-1990", dt.date(1990, 8, 14)), ("1990-08-14", dt.date(1990, 8, 14)), ("14/08", dt.date(NO_YEAR, 8, 14))],
)
def test_the_birthday_is_asked_stored_and_confirmed(database: Database, lang: str, typed: str, stored: dt.date) -> None:
    chat = member_chat(database, lang)
    chat.send(SAY[lang]["birthday"])
    assert SAY[lang]["ask"] in chat.text() and load_conv(database).state == "birthday"
    chat.send(typed)
    t = texts_for(lang, {})
    assert SAY[lang]["saved"] in chat.text() and t.birthday(stored) in chat.text()
    assert SEE[lang]["menu_q"] in chat.text() and load_conv(database).state == "menu"
    assert load_customer(database).birthday == stored


def test_without_a_year_the_confirmation_shows_day_and_month_only(database: Database) -> None:
    chat = member_chat(database)
    chat.send("birthday")
    chat.send("14 Aug")
    assert "We have saved your birthday: 14 Aug." in chat.text()
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        document = data_export.export(s, customer, NOW)
    assert document["member"]["birthday"] == "--08-14"  # ISO 8601's day without a year, never "0004-08-14"


@pytest.mark.parametrize("lang", LANGS)
def test_nonsense_and_future_dates_are_refused_and_asked_again(database: Database, lang: str) -> None:
    chat = member_chat(database, lang)
    chat.send(SAY[lang]["birthday"])
    chat.send("next tuesday maybe")
    assert SAY[lang]["unreadable"] in chat.text() and "14/08" in chat.text()
    chat.send("31/06/1990")  # no such day
    assert SAY[lang]["unreadable"] in chat.text()
    chat.send("14/08/2030")
    assert SAY[lang]["future"] in chat.text()
    chat.send("01/01/1850")
    assert SAY[lang]["too_old"] in chat.text()
    assert load_customer(database).birthday is None and load_conv(database).state == "birthday"
    chat.send("14 August 1990")
    assert load_customer(database).birthday == dt.date(1990, 8, 14)


def test_a_command_or_a_picture_leaves_the_question(database: Database) -> None:
    chat = member_chat(database)
    chat.send("birthday")
    chat.send("points")
    assert "You have 0 points." in chat.text() and load_conv(database).state == "menu"
    chat.send("birthday")
    chat.send(kind="image")
    assert "I can only read text and buttons" in chat.text() and load_conv(database).state == "menu"
    assert load_customer(database).birthday is None


@pytest.mark.parametrize("lang", LANGS)
def test_a_birthday_that_makes_the_member_a_minor_stops_their_offers(database: Database, lang: str) -> None:
    chat = member_chat(database, lang)
    chat.send("offers on")
    assert load_customer(database).marketing_opt_in
    chat.send(SAY[lang]["birthday"])
    chat.send("04/03/2012")
    assert SAY[lang]["saved"] in chat.text() and SAY[lang]["minor"] in chat.text()
    customer = load_customer(database)
    assert customer.birthday == dt.date(2012, 3, 4) and not customer.marketing_opt_in
    with database.unit_of_work() as s:
        last = consents.history(s, customer.id)[-1]
        assert (last.purpose, last.granted, last.channel, last.recorded_at) == ("marketing", False, "whatsapp", NOW)
        assert consents.minors_marketed(s, NOW.date()) == [] and consents.mismatches(s) == []


def test_an_adults_birthday_changes_nothing_about_offers(database: Database) -> None:
    chat = member_chat(database)
    chat.send("offers on")
    chat.send("birthday")
    chat.send("14/08/1990")
    assert "under 18" not in chat.text() and load_customer(database).marketing_opt_in


def test_a_known_birthday_is_shown_and_can_be_changed(database: Database) -> None:
    make_customer(database)
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.set_birthday(s, customer, dt.date(1990, 8, 14), channel="erp", now=NOW)
    chat = Chat(database)
    chat.send("hi")
    chat.send("birthday")
    assert "We have your birthday as 14 Aug 1990." in chat.text()
    chat.send("15/08/1990")
    assert load_customer(database).birthday == dt.date(1990, 8, 15)


@pytest.mark.parametrize("lang", LANGS)
def test_new_members_are_offered_it_once_as_onboarding_ends_without_waiting_for_it(
    database: Database, lang: str
) -> None:
    chat = Chat(database)
    chat.onboard(lang)  # ends with the menu: the offer does not hold it up
    assert SAY[lang]["add"] in chat.titles() and SEE[lang]["points"] in chat.titles()
    chat.pick(SEE[lang]["points"])  # the menu answers as usual
    assert SAY[lang]["add"] not in chat.titles()
    chat.send("menu")
    assert SAY[lang]["add"] not in chat.titles()  # once
    chat.send("hi")
    chat.send(SAY[lang]["birthday"])
    chat.send("14/08")
    assert load_customer(database).birthday == dt.date(NO_YEAR, 8, 14)


def test_the_offers_button_asks_for_the_date(database: Database) -> None:
    chat = Chat(database)
    chat.onboard("en")
    chat.pick("Add my birthday")
    assert "When is your birthday?" in chat.text()
    chat.send("1990-08-14")
    assert load_customer(database).birthday == dt.date(1990, 8, 14)


def test_a_member_whose_birthday_we_know_is_not_offered_it(database: Database) -> None:
    make_customer(database, opted_in=None)
    with database.unit_of_work() as s:
        customer = s.get(Customer, load_customer(database).id)
        assert customer is not None
        consents.set_birthday(s, customer, dt.date(1990, 8, 14), channel="erp", now=NOW)
    chat = Chat(database)
    chat.onboard("en")
    assert "Add my birthday" not in chat.titles()


@pytest.mark.parametrize("lang", LANGS)
def test_my_data_shows_a_birthday_without_a_year_as_day_and_month(database: Database, lang: str) -> None:
    chat = member_chat(database, lang)
    chat.send(SAY[lang]["birthday"])
    chat.send("14/08")
    chat.send(SAY[lang]["my_data"])
    shown = texts_for(lang, {}).birthday(dt.date(NO_YEAR, 8, 14))
    assert shown in chat.text() and "0004" not in chat.text() and " 4" not in shown
