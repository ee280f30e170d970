"""Every conversation flow over the wire, in English and Hindi.

Signed Meta-format payloads (text, button reply, list reply, image, sticker,
location, voice) are posted to ``/webhook`` on a running app; the replies are
read where they arrive, at the local Graph API server, as WhatsApp would get them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot import jobs
from bot.jobs import retry_outbox
from bot.texts import texts_for
from domain import affiliates, orders
from domain.customers import Customer, NewCustomer, enrol
from domain.db import Database
from domain.rules import load_rules
from tests.bot_chat import NOW, SEE, add_reward, make_customer
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import FakeGraphAPI, Recorded

WA_ID = "919812345678"
PHONE = "+" + WA_ID
FRIEND_WA_ID = "919876543210"
LANGS = ("en", "hi")


class Customer_:
    """A WhatsApp user who can also press what the bot offered, by its title."""

    def __init__(self, user: WhatsAppUser) -> None:
        self.user = user
        self.last: list[Recorded] = []

    def say(self, text: str) -> list[Recorded]:
        self.last = self.user.say(text)
        return self.last

    def send(self, body: dict[str, Any]) -> list[Recorded]:
        before = len(self.user.replies())
        self.user.send(body)
        self.last = self.user.replies()[before:]
        return self.last

    def press(self, title: str) -> list[Recorded]:
        """A button reply or list reply, whichever the offering message was."""
        for reply in reversed(self.last):
            for ident, shown in reply.options:
                if shown.startswith(title):
                    kind = reply.body["interactive"]["type"]
                    builder = meta.button_reply if kind == "button" else meta.list_reply
                    return self.send(builder(self.user.wa_id, ident, shown))
        raise AssertionError(f"{title!r} not offered: {[o for r in self.last for o in r.options]}")

    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def full(self) -> str:
        """Text plus every option title and list row description."""
        parts = [self.text()]
        for reply in self.last:
            action = reply.body.get("interactive", {}).get("action", {})
            parts += [t for _, t in reply.options]
            parts += [r.get("description", "") for s in action.get("sections", []) for r in s.get("rows", [])]
        return "\n".join(parts)


@pytest.fixture
def asha(whatsapp: WhatsAppUser) -> Customer_:
    return Customer_(whatsapp)


def known(database: Database, lang: str, points: int = 0) -> int:
    return make_customer(database, language=lang, points=points)


@pytest.mark.parametrize("lang", LANGS)
def test_first_contact_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    asha.say("hi")
    assert asha.last[0].type == "interactive" and asha.last[0].body["interactive"]["type"] == "button"
    assert [t for _, t in asha.last[0].options] == ["English", "हिन्दी"]
    asha.press(SEE[lang]["lang_button"])
    asha.press(SEE[lang]["yes_consent"])
    asha.press(SEE[lang]["no_offers"])
    asha.press(SEE[lang]["no_code"])
    assert SEE[lang]["menu_q"] in asha.text()
    assert asha.last[-1].body["interactive"]["type"] == "list"
    with database.unit_of_work() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.phone, customer.source, customer.language, customer.opted_in) == (
            PHONE,
            "whatsapp",
            lang,
            True,
        )
        assert customer.name == "Asha"  # from the WhatsApp profile


@pytest.mark.parametrize("lang", LANGS)
def test_points_and_history_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    known(database, lang, points=125000)
    asha.say("hi")
    asha.press(SEE[lang]["points"])
    assert "1,25,000" in asha.text() and "₹25,000" in asha.text()
    asha.press(SEE[lang]["history"])
    assert "+1,25,000" in asha.text()
    assert texts_for(lang, {}).date(NOW - dt.timedelta(days=200)) in asha.text()  # when the points were added


@pytest.mark.parametrize("lang", LANGS)
def test_rewards_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    known(database, lang, points=300)
    add_reward(database, "Free coffee mug", 250, stock=3)
    add_reward(database, "Weekend spa voucher", 2000)
    asha.say("redeem" if lang == "en" else "रिडीम")  # the first message: greeting, then the catalog
    assert asha.last[0].type == "text" and asha.last[-1].body["interactive"]["type"] == "list"
    assert "1,700" in asha.full() and "✓" in asha.full()
    asha.press("Weekend spa voucher")
    assert ("you need 1,700 more" if lang == "en" else "आपको 1,700 और चाहिए") in asha.text()
    asha.press("Other rewards" if lang == "en" else "दूसरे इनाम")
    asha.press("Free coffee mug")
    asha.press(SEE[lang]["confirm"])
    assert SEE[lang]["voucher"] in asha.text()
    code = asha.text().split("*")[1]
    assert len(code) == 14 and code.count("-") == 2


@pytest.mark.parametrize("lang", LANGS)
def test_refer_and_a_friend_joining_over_the_wire(
    live_app: LiveApp, graph_api: FakeGraphAPI, asha: Customer_, database: Database, lang: str
) -> None:
    known(database, lang)
    live_app.run_job(jobs.refresh_business_number)  # the scheduler does this when it starts
    asha.say("refer" if lang == "en" else "रेफर")
    with database.unit_of_work() as session:
        code = session.scalars(select(Customer.referral_code).where(Customer.phone == PHONE)).one()
    assert f"https://wa.me/919800011111?text=JOIN%20{code}" in asha.text()  # the Graph API's number
    friend = Customer_(WhatsAppUser(live_app, graph_api, wa_id=FRIEND_WA_ID))
    try:
        friend.say(f"JOIN {code}")  # what the wa.me link types for them
        friend.press(SEE[lang]["lang_button"])
        friend.press(SEE[lang]["yes_consent"])
        friend.press(SEE[lang]["no_offers"])
        assert SEE[lang]["accepted"] in friend.text()
    finally:
        friend.user.close()
    with database.unit_of_work() as session:
        referee = session.scalars(select(Customer).where(Customer.phone == "+" + FRIEND_WA_ID)).one()
        assert referee.referred_by_id is not None


@pytest.mark.parametrize("lang", LANGS)
def test_affiliate_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    known(database, lang)
    asha.say("affiliate")
    asha.press(SEE[lang]["apply"])
    with database.unit_of_work() as session:
        partner = session.scalars(select(affiliates.Affiliate)).one()
        assert partner.status == "pending"
        affiliates.decide(session, partner.id, "approved", actor="staff", now=NOW)
        buyer, _ = enrol(session, NewCustomer(phone="+919876500000", name="Ravi"), NOW)
        affiliates.attribute(session, buyer, partner, NOW, is_new=True)
    with database.unit_of_work() as session:
        orders.record_order(
            session,
            orders.OrderData(erp_order_id="E1", customer_id=buyer.id, order_date=NOW, net_amount=Decimal("10000")),
            load_rules(session),
            NOW,
        )
    asha.say("affiliate")
    assert "₹500" in asha.text()
    assert ("Commission pending: ₹500" if lang == "en" else "लंबित कमीशन: ₹500") in asha.text()


@pytest.mark.parametrize("lang", LANGS)
def test_help_hand_off_and_hand_back_over_the_wire(
    asha: Customer_, database: Database, live_app: LiveApp, lang: str
) -> None:
    from bot import api

    known(database, lang)
    asha.say("help" if lang == "en" else "मदद")
    asha.press(SEE[lang]["person"])
    assert SEE[lang]["quiet"] in asha.text()
    assert asha.say("points") == []
    assert asha.send(meta.image(WA_ID)) == []
    with database.unit_of_work() as session:
        api.hand_back(session, PHONE, actor="staff", now=NOW)
    before = len(asha.user.replies())
    live_app.run_job(retry_outbox)  # the scheduler sends what the console queued
    (notice,) = asha.user.replies()[before:]
    assert ("MENU" if lang == "en" else "मेनू") in notice.text
    asha.say("points")
    assert asha.last and asha.last[0].type == "interactive"


@pytest.mark.parametrize("lang", LANGS)
def test_stop_and_start_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    known(database, lang)
    asha.say("STOP" if lang == "en" else "रोकें")
    assert SEE[lang]["stopped"] in asha.text()
    with database.unit_of_work() as session:
        assert session.scalars(select(Customer.opted_in)).one() is False
    asha.say("START" if lang == "en" else "शुरू")
    assert SEE[lang]["restarted"] in asha.text()
    with database.unit_of_work() as session:
        assert session.scalars(select(Customer.opted_in)).one() is True


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "body",
    [
        lambda: meta.image(WA_ID, caption="my bill"),
        lambda: meta.message(
            WA_ID, "sticker", {"mime_type": "image/webp", "sha256": "x", "id": "2", "animated": False}
        ),
        lambda: meta.message(WA_ID, "location", {"latitude": 19.07, "longitude": 72.87}),
        lambda: meta.message(WA_ID, "audio", {"mime_type": "audio/ogg", "sha256": "x", "id": "3", "voice": True}),
    ],
    ids=["image", "sticker", "location", "voice"],
)
def test_media_gets_a_short_answer_and_the_menu_over_the_wire(
    asha: Customer_, database: Database, lang: str, body: Any
) -> None:
    known(database, lang)
    asha.say("hi")
    asha.send(body())
    assert len(asha.last) == 1 and SEE[lang]["media"] in asha.text()
    assert asha.last[0].body["interactive"]["type"] == "list"


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_text_and_typed_numbers_over_the_wire(asha: Customer_, database: Database, lang: str) -> None:
    known(database, lang, points=3)
    asha.say("hello")
    asha.say("is the shop open on sunday")
    assert SEE[lang]["unknown"] in asha.text()
    asha.say("1")  # the first row of the menu just offered
    assert ("You have 3 points." if lang == "en" else "आपके पास 3 अंक हैं।") in asha.text()


def test_every_interactive_reply_sent_is_within_whatsapps_limits(asha: Customer_, database: Database) -> None:
    known(database, "hi", points=300)
    add_reward(database, "A reward with a really long name for the list", 100)
    asha.say("hi")
    for word in ("अंक", "इतिहास", "रिडीम", "रेफर", "मदद"):
        asha.say(word)
    for reply in asha.user.replies():
        if reply.type != "interactive":
            assert len(reply.text) <= 4096
            continue
        action = reply.body["interactive"]["action"]
        assert len(action.get("buttons", [])) <= 3
        assert all(len(b["reply"]["title"]) <= 20 for b in action.get("buttons", []))
        rows = [r for s in action.get("sections", []) for r in s["rows"]]
        assert len(rows) <= 10
        assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)


def test_idle_conversation_restarts_at_the_menu_over_the_wire(
    asha: Customer_, database: Database, clock: Any, live_app: LiveApp
) -> None:
    known(database, "en", points=300)
    add_reward(database, "Free coffee mug", 250)
    asha.say("redeem")
    asha.press("Free coffee mug")
    clock.advance(minutes=45)
    asha.press("Yes, redeem")
    assert "What would you like to do?" in asha.text()
    with database.unit_of_work() as session:
        assert session.scalars(select(Customer.points_balance)).one() == 300
    assert dt.timedelta(minutes=45) == clock.now() - NOW
