"""One phone number talking to the conversation engine, and the builders and texts the flow tests share."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from bot import engine
from bot.messages import Incoming, Reply
from bot.models import Conversation
from domain import consents, ledger, rewards
from domain.customers import Customer, NewCustomer, enrol
from domain.db import Database

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
PHONE = "+919812345678"
FRIEND = "+919876543210"
LANGS = ("en", "hi")
CONFIG: dict[str, Any] = {"DEFAULT_LOCALE": "en_IN", "CURRENCY": "INR", "BOT_IDLE_MINUTES": "30"}

# What the customer sees, per language, for the flow tests' assertions.
SEE = {
    "en": {
        "lang_button": "English",
        "yes_consent": "Yes, please",
        "no_consent": "No, thanks",
        "yes_offers": "Yes",
        "no_offers": "No thanks",
        "offers_q": "would you also like our offers",
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
        "yes_offers": "हाँ",
        "no_offers": "नहीं, शुक्रिया",
        "offers_q": "क्या आप WhatsApp पर हमारे ऑफ़र",
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

    def onboard(self, lang: str, *, offers: bool = False) -> None:
        self.send("hi")
        self.pick(SEE[lang]["lang_button"])
        self.pick(SEE[lang]["yes_consent"])
        self.pick(SEE[lang]["yes_offers" if offers else "no_offers"])
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
            consents.record(session, customer, consents.SERVICE, opted_in, channel="erp", now=created)
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
