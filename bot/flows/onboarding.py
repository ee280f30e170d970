"""First contact: the language, consent to updates, consent to offers, and a friend's referral code.

A number the bot does not know yet is asked its language (in both languages), then
whether it may send updates, then (after a yes, as its own optional question) whether
it may send offers too, then, while the customer can still be referred, for a code.
Onboarding ends with the menu and, once, a button to tell us a birthday. A customer
the ERP already knows is greeted by name and asked only what is missing. A code the
first message came with (``JOIN ABC123``, a ``wa.me`` link) is kept in ``pending_code``
and applied at the end.
"""

from __future__ import annotations

from bot import notice
from bot import replies as rp
from bot.flows import birthday, offers
from bot.flows.common import CONSENT_SOURCE, MEDIA_KINDS, button_or_word, fallback, first_name, show_menu
from bot.flows.referral import apply_code
from bot.flows.turn import Turn
from bot.keywords import normalize, yes_or_no
from bot.messages import Reply
from bot.texts import LANGUAGES, texts_for
from domain import consents, referrals, suppression
from domain.customers import Customer, NewCustomer, enrol
from runtime.config import privacy_key

NOTICE_SHOWN = "notice_version"  # the privacy notice the consent question linked to


def start(turn: Turn) -> list[Reply]:
    """First contact: a known customer is greeted by name; anyone else chooses a language."""
    customer = turn.customer
    if customer is not None and customer.opt_in_changed_at is not None:
        turn.remember(customer)
        turn.conv.language = customer.language
        greeting = turn.t._("Hello {name}, welcome back!", name=first_name(turn, customer))
        if turn.data.get("pending_code") or can_be_referred(turn):
            return [rp.text(greeting), *finish_onboarding(turn)]
        turn.goto("menu")
        asked = turn.command.name if turn.command else None
        if asked is not None and asked in turn.table.commands and asked not in ("menu", "start"):
            return [rp.text(greeting), *turn.table.commands[asked].handler(turn)]  # a first "points" gets the points
        if asked is None and (turn.incoming.kind in MEDIA_KINDS or turn.text):
            return [rp.text(greeting), *fallback(turn)]
        return [show_menu(turn, greeting)]
    turn.goto("language")
    return [language_question(turn, customer)]


def language_question(turn: Turn, customer: Customer | None, *, greet: bool = True) -> Reply:
    """Asked before we know the language, so the question is in both."""
    bodies = []
    for lang in LANGUAGES:
        t = texts_for(lang, turn.config)
        if greet and customer is not None and customer.name:
            bodies.append(t._("Hello {name}! Welcome to our loyalty club.", name=customer.name.split()[0]))
        elif greet:
            bodies.append(t._("Hello! Welcome to our loyalty club."))
        bodies.append(t._("Which language do you prefer?"))
    # "English" is each catalog's name for its own language: the Hindi catalog says हिन्दी.
    choices = [(f"lang:{lang}", texts_for(lang, turn.config)._("English")) for lang in LANGUAGES]
    return rp.buttons("\n".join(bodies), choices)


def picked_language(turn: Turn) -> str | None:
    if turn.choice and turn.choice.startswith("lang:") and turn.choice[5:] in LANGUAGES:
        return turn.choice[5:]
    spoken = {"english": "en", "angrezi": "en", "अंग्रेज़ी": "en", "अंग्रेजी": "en"}
    spoken |= {"hindi": "hi", "हिन्दी": "hi", "हिंदी": "hi"}
    return spoken.get(normalize(turn.text)) if turn.text else None


def choose_language(turn: Turn) -> list[Reply]:
    lang = picked_language(turn)
    if lang is None:
        return [language_question(turn, turn.customer)]
    turn.conv.language = lang
    customer = ensure_customer(turn, lang)
    customer.language = lang
    if customer.opt_in_changed_at is None:
        turn.goto("consent")
        return [consent_question(turn)]
    return finish_onboarding(turn)


def ensure_customer(turn: Turn, language: str) -> Customer:
    """Enrol a new number, or recognise the customer the ERP already knows."""
    customer = turn.customer
    if customer is None:
        new = NewCustomer(phone=turn.conv.phone, name=turn.incoming.profile_name, language=language)
        customer, created = enrol(turn.session, new, turn.now)
        if created:
            # Joining again by chat, after an erasure: the ERP may link this person again.
            suppression.lift(turn.session, privacy_key(turn.config), customer.phone)
    turn.remember(customer)
    return customer


def consent_question(turn: Turn) -> Reply:
    """Asks for consent with the privacy notice in the member's language; the version shown is kept."""
    t = turn.t
    shown = notice.current(turn.session, t.language)
    turn.data[NOTICE_SHOWN] = shown.label
    question = t._(
        "May we send you loyalty updates on WhatsApp: points earned, rewards and vouchers? "
        "You can send STOP at any time."
    )
    link = t._("Privacy notice: {link}", link=notice.url(turn.session, turn.config, t.language))
    body = f"{question}\n\n{link}"
    return rp.buttons(body, [("consent:yes", t._("Yes, please")), ("consent:no", t._("No, thanks"))])


def consent(turn: Turn) -> list[Reply]:
    answer = button_or_word(turn, "consent:yes", "consent:no")
    if answer is None:
        return [consent_question(turn)]
    customer = turn.require_customer()
    shown = str(turn.data.get(NOTICE_SHOWN) or notice.current(turn.session, turn.language).label)
    consents.record(
        turn.session,
        customer,
        consents.SERVICE,
        answer,
        channel=CONSENT_SOURCE,
        now=turn.now,
        notice_version=shown,
        language=turn.language,
    )
    t = turn.t
    if answer:
        ack = t._("Thank you! We will keep you posted.")
    else:
        ack = t._("No problem: we will only answer when you write to us. Send START if you change your mind.")
    if answer and customer.marketing_changed_at is None:
        turn.goto("marketing", **{NOTICE_SHOWN: shown})
        return [rp.text(ack), offers.question(turn)]
    return [rp.text(ack), *finish_onboarding(turn)]


def marketing(turn: Turn) -> list[Reply]:
    """The offers question's answer; anything but a yes or a no goes on without consent."""
    answer = offers.answer_given(turn)
    said: list[Reply] = []
    if answer is True:
        said.append(offers.say_yes(turn, str(turn.data.get(NOTICE_SHOWN) or "") or None))
    elif answer is False:
        said.append(offers.say_no(turn))
    return [*said, *finish_onboarding(turn)]


def finish_onboarding(turn: Turn) -> list[Reply]:
    """Apply a code the customer came with, or ask for one if they can still be referred."""
    code = turn.data.pop("pending_code", None)
    if code:
        turn.goto("menu")
        return joined(turn, *apply_code(turn, code))
    if can_be_referred(turn):
        turn.goto("referral_question")
        t = turn.t
        return [
            rp.buttons(
                t._("Got a referral code from a friend?"),
                [("ref:yes", t._("Yes, I have one")), ("ref:no", t._("No code"))],
            )
        ]
    turn.goto("menu")
    return joined(turn, intro=turn.t._("You're all set!"))


def joined(turn: Turn, *before: Reply, intro: str | None = None) -> list[Reply]:
    """The end of onboarding: the birthday offered once (a button, not a question that waits), then the menu."""
    return [*before, *birthday.offer(turn), show_menu(turn, intro)]


def can_be_referred(turn: Turn) -> bool:
    customer = turn.require_customer()
    unattributed = customer.referred_by_id is None and customer.affiliate_id is None
    return unattributed and referrals.is_new_customer(customer, turn.rules, turn.now)


def referral_question(turn: Turn) -> list[Reply]:
    answer = button_or_word(turn, "ref:yes", "ref:no")
    if answer is True:
        turn.goto("referral_code")
        return [rp.text(turn.t._("Please type the code."))]
    if answer is False or not turn.text:
        turn.goto("menu")
        return joined(turn, intro=turn.t._("You're all set!"))
    return referral_code(turn)


def referral_code(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    if not turn.text or yes_or_no(turn.text) is False:
        return joined(turn, intro=turn.t._("You're all set!"))
    return joined(turn, *apply_code(turn, turn.text))
