"""Every conversation flow driven through ``bot.engine.handle`` on SQLite and PostgreSQL, in both languages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot import engine
from bot.messages import Incoming, Reply
from bot.models import Conversation
from domain import affiliates, ledger, orders, rewards
from domain.customers import Customer, NewCustomer, enrol, set_opt_in
from domain.db import Database
from domain.notifications import Notification
from domain.rules import load_rules

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
PHONE = "+919812345678"
FRIEND = "+919876543210"
LANGS = ("en", "hi")
CONFIG: dict[str, Any] = {"DEFAULT_LOCALE": "en_IN", "CURRENCY": "INR", "BOT_IDLE_MINUTES": "30"}

# What the customer sees, per language, for the assertions below.
SEE = {
    "en": {
        "lang_button": "English",
        "yes_consent": "Yes, please",
        "no_consent": "No, thanks",
        "no_code": "No code",
        "have_code": "Yes, I have one",
        "menu_q": "What would you like to do?",
        "points": "My points",
        "rewards": "Rewards",
        "history": "History",
        "refer": "Refer a friend",
        "affiliate": "Affiliate",
        "help": "Help",
        "confirm": "Yes, redeem",
        "cancel": "Cancel",
        "apply": "Apply",
        "person": "Talk to a person",
        "accepted": "Code accepted",
        "gold": "Gold",
        "voucher": "Your voucher for",
        "sold_out": "sold out",
        "quiet": "A member of our team will reply",
        "stopped": "You will no longer get loyalty updates",
        "restarted": "Welcome back!",
        "media": "I can only read text and buttons",
        "unknown": "I did not understand",
    },
    "hi": {
        "lang_button": "हिन्दी",
        "yes_consent": "हाँ, ज़रूर",
        "no_consent": "नहीं, धन्यवाद",
        "no_code": "कोई कोड नहीं",
        "have_code": "हाँ, मेरे पास है",
        "menu_q": "आप क्या करना चाहेंगे?",
        "points": "मेरे अंक",
        "rewards": "इनाम",
        "history": "इतिहास",
        "refer": "दोस्त को रेफ़र करें",
        "affiliate": "एफ़िलिएट",
        "help": "मदद",
        "confirm": "हाँ, रिडीम करें",
        "cancel": "रद्द करें",
        "apply": "आवेदन करें",
        "person": "टीम से बात करें",
        "accepted": "कोड स्वीकार हो गया",
        "gold": "गोल्ड",
        "voucher": "के लिए आपका वाउचर",
        "sold_out": "स्टॉक ख़त्म",
        "quiet": "हमारी टीम का कोई सदस्य",
        "stopped": "अब आपको हमसे लॉयल्टी अपडेट नहीं मिलेंगे",
        "restarted": "फिर से स्वागत है",
        "media": "मैं सिर्फ़ टेक्स्ट और बटन पढ़ सकता हूँ",
        "unknown": "मैं समझ नहीं पाया",
    },
}


class Chat:
    """One phone number talking to the engine, one unit of work per message, like the webhook."""

    def __init__(self, db: Database, phone: str = PHONE, *, config: dict[str, Any] | None = None) -> None:
        self.db, self.phone, self.now = db, phone, NOW
        self.config = {**CONFIG, **(config or {})}
        self.last: list[Reply] = []

    def send(
        self,
        text: str | None = None,
        *,
        button: str | None = None,
        kind: str = "text",
        message_id: str | None = None,
        referral_code: str | None = None,
    ) -> list[Reply]:
        incoming = Incoming(
            message_id=message_id or f"wamid.{uuid.uuid4().hex}",
            phone=self.phone,
            kind=kind if button is None else "button",
            text=text,
            reply_id=button,
            profile_name="Asha Verma",
            referral_code=referral_code,
        )
        with self.db.unit_of_work() as session:
            self.last = engine.handle(session, incoming, self.now, self.config)
        return self.last

    def pick(self, title: str, **kwargs: Any) -> list[Reply]:
        """Press the offered button or list row whose title starts with ``title``."""
        for reply in reversed(self.last):
            for ident, shown in _options(reply):
                if shown.startswith(title):
                    return self.send(shown, button=ident, **kwargs)
        raise AssertionError(f"{title!r} not offered; offered: {self.titles()}")

    def titles(self) -> list[str]:
        return [shown for reply in self.last for _, shown in _options(reply)]

    def text(self) -> str:
        return "\n".join(r.body for r in self.last)

    def onboard(self, lang: str) -> None:
        self.send("hi")
        self.pick(SEE[lang]["lang_button"])
        self.pick(SEE[lang]["yes_consent"])
        if SEE[lang]["no_code"] in self.titles():
            self.pick(SEE[lang]["no_code"])
        assert SEE[lang]["menu_q"] in self.text()


def _options(reply: Reply) -> list[tuple[str, str]]:
    return [(b.id, b.title) for b in reply.buttons] + [(r.id, r.title) for s in reply.sections for r in s.rows]


def make_customer(
    db: Database,
    phone: str = PHONE,
    *,
    name: str = "Asha Verma",
    language: str = "en",
    points: int = 0,
    opted_in: bool | None = True,
    created: dt.datetime = NOW - dt.timedelta(days=200),
    expires_at: dt.datetime | None = None,
) -> int:
    with db.unit_of_work() as session:
        customer, _ = enrol(session, NewCustomer(phone=phone, name=name, language=language, source="erp"), created)
        if opted_in is not None:
            set_opt_in(customer, opted_in, "erp", created)
        if points:
            locked = ledger.lock_customer(session, customer.id)
            ledger.credit(
                session,
                locked,
                kind="adjust",
                points=points,
                key=f"seed:{phone}",
                now=created,
                expires_at=expires_at or NOW + dt.timedelta(days=300),
            )
        return customer.id


def add_reward(db: Database, name: str, cost: int, stock: int | None = None, limit: int | None = None) -> int:
    with db.unit_of_work() as session:
        return rewards.add_reward(session, name=name, points_cost=cost, stock=stock, per_customer_limit=limit).id


def load_customer(db: Database, phone: str = PHONE) -> Customer:
    with db.unit_of_work() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == phone))
        assert customer is not None
        return customer


def load_conv(db: Database, phone: str = PHONE) -> Conversation:
    with db.unit_of_work() as session:
        conv = session.get(Conversation, phone)
        assert conv is not None
        return conv


# --- first contact -------------------------------------------------------------------------------


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
    assert "Code accepted" in chat.text()


# --- points and history --------------------------------------------------------------------------


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


# --- rewards -------------------------------------------------------------------------------------


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


# --- refer and affiliate -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_refer_gives_code_and_wa_me_link(database: Database, lang: str) -> None:
    make_customer(database, language=lang)
    code = load_customer(database).referral_code
    chat = Chat(database, config={"WHATSAPP_DISPLAY_NUMBER": "+91 98000-12345"})
    chat.send("hi")
    chat.pick(SEE[lang]["refer"])
    assert f"https://wa.me/919800012345?text=JOIN%20{code}" in chat.text()
    assert code in chat.text()


def test_refer_without_a_business_number_uses_a_generic_link(database: Database) -> None:
    make_customer(database)
    code = load_customer(database).referral_code
    chat = Chat(database)
    chat.send("hi")
    chat.send("refer")
    assert f"https://wa.me/?text=JOIN%20{code}" in chat.text()


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
    chat = Chat(database)
    chat.send("hi")
    chat.send("affiliate")
    body = chat.text()
    assert f"JOIN%20{code}" in body
    assert "₹12,500" in body  # 5% of 2,50,000, pending
    assert ("Sign-ups: 1" if lang == "en" else "जुड़े ग्राहक: 1") in body
    assert ("First purchases: 1" if lang == "en" else "पहली खरीदारी: 1") in body


# --- help, hand-off, stop / start ----------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_talk_to_a_person_hands_off_and_the_bot_stays_quiet_until_handed_back(database: Database, lang: str) -> None:
    from bot import api

    make_customer(database, language=lang)
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["help"])
    chat.pick(SEE[lang]["person"])
    assert SEE[lang]["quiet"] in chat.text()
    conv = load_conv(database)
    assert conv.handoff and conv.handoff_at == NOW
    assert chat.send("points") == []
    assert chat.send("hello?", kind="text") == []
    with database.unit_of_work() as session:
        assert [c.phone for c in api.waiting(session)] == [PHONE]
        api.hand_back(session, PHONE, actor="staff@example.com", now=NOW)
    chat.send("points")
    assert chat.last and chat.last[0].kind == "buttons"


def test_stop_and_start_work_even_while_handed_off(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("agent")
    chat.send("STOP")
    assert "You will no longer get loyalty updates" in chat.text()
    assert load_customer(database).opted_in is False
    chat.send("start")
    assert "Welcome back!" in chat.text()
    assert load_customer(database).opted_in is True
    assert load_conv(database).handoff


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


# --- anything else -------------------------------------------------------------------------------


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


def test_language_can_be_changed_later(database: Database) -> None:
    make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("language")
    chat.pick("हिन्दी")
    assert "हिन्दी में" in chat.text() and SEE["hi"]["menu_q"] in chat.text()
    assert load_customer(database).language == "hi"


# --- state: idle, restarts, workers --------------------------------------------------------------


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
    import dataclasses

    from domain.rules import save_rules

    make_customer(database, points=100)  # earned 2025-11-27 10:00 UTC: still the 27th in India, the 28th at UTC+14
    with database.unit_of_work() as session:
        save_rules(session, dataclasses.replace(load_rules(session), timezone="Pacific/Kiritimati"), "test")
    chat = Chat(database)
    chat.send("hi")
    chat.send("history")
    assert "28 Nov 2025 · Adjustment · +100" in chat.text()
