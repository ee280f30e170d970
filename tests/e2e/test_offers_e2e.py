"""Offers and the birthday over the wire: signed webhook payloads with button replies in, the replies read
at the local Graph API, the consent ledger read in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import notice
from domain import consents
from domain.customers import Customer
from domain.db import Database
from tests.bot_chat import SEE
from tests.e2e.conftest import WhatsAppUser
from tests.e2e.test_flows_e2e import PHONE, Customer_
from tests.fakes import FrozenClock

LANGS = ("en", "hi")


@pytest.fixture
def asha(whatsapp: WhatsAppUser) -> Customer_:
    return Customer_(whatsapp)


def ledger(database: Database) -> list[tuple[str, bool, str, str | None, str | None, dt.datetime]]:
    with database.unit_of_work() as s:
        member = s.scalars(select(Customer).where(Customer.phone == PHONE)).one()
        return [
            (r.purpose, r.granted, r.channel, r.notice_version, r.language, r.recorded_at)
            for r in consents.history(s, member.id)
        ]


@pytest.mark.parametrize("lang", LANGS)
def test_the_onboarding_offers_question_then_offers_off_over_the_wire(
    asha: Customer_, database: Database, clock: FrozenClock, lang: str
) -> None:
    asha.say("hi")
    asha.press(SEE[lang]["lang_button"])
    asha.press(SEE[lang]["yes_consent"])
    question = asha.last[-1]
    assert question.body["interactive"]["type"] == "button" and SEE[lang]["offers_q"] in question.text
    assert [title for _, title in question.options] == [SEE[lang]["yes_offers"], SEE[lang]["no_offers"]]
    joined_at = clock.now()
    asha.press(SEE[lang]["yes_offers"])
    asha.press(SEE[lang]["no_code"])
    assert SEE[lang]["menu_q"] in asha.text()
    version = notice.default_label()
    assert ledger(database) == [
        ("service", True, "whatsapp", version, lang, joined_at),
        ("marketing", True, "whatsapp", version, lang, joined_at),
    ]

    clock.advance(days=2)
    asha.say("offers off" if lang == "en" else "ऑफ़र बंद")
    assert ("OK, no offers" if lang == "en" else "ठीक है, कोई ऑफ़र नहीं") in asha.text()
    assert ledger(database)[-1] == ("marketing", False, "whatsapp", None, lang, clock.now())
    with database.unit_of_work() as s:
        member = s.scalars(select(Customer).where(Customer.phone == PHONE)).one()
        assert member.opted_in and not member.marketing_opt_in
        assert list(s.scalars(consents.consented_at("marketing", joined_at + dt.timedelta(days=1)))) == [member.id]
        assert list(s.scalars(consents.consented_at("marketing", clock.now()))) == []


def test_offers_from_the_menu_and_the_birthday_button_over_the_wire(
    asha: Customer_, database: Database, clock: FrozenClock
) -> None:
    asha.say("hi")
    asha.press("English")
    asha.press("Yes, please")
    asha.press("No thanks")
    asha.press("No code")
    assert asha.last[-2].body["interactive"]["type"] == "button"  # the birthday, offered once
    asha.press("Add my birthday")
    assert "When is your birthday?" in asha.text()
    asha.say("14 Aug 1990")
    assert "We have saved your birthday: 14 Aug 1990." in asha.text()
    asha.press("Offers")  # a list reply: the menu's row
    assert "You do not get our offers at the moment" in asha.text()
    asha.press("Yes, send offers")
    assert "we will send you our offers" in asha.text()
    with database.unit_of_work() as s:
        member = s.scalars(select(Customer).where(Customer.phone == PHONE)).one()
        assert member.birthday == dt.date(1990, 8, 14) and member.marketing_opt_in
    assert [(p, g) for p, g, *_ in ledger(database)] == [("service", True), ("marketing", False), ("marketing", True)]
