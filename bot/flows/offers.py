"""Offers: the member's own yes or no to marketing, kept apart from the service messages.

Asked once at first contact, as its own question right after the service one (the handler of that
state is ``onboarding.marketing``, which uses :func:`question` and :func:`answer_given`); open at
any time after: OFFERS shows the current choice with a button to switch, OFFERS ON and OFFERS OFF
switch at once. STOP still ends everything, offers included (``account.stop``). Every answer is a
row in the consent ledger (channel ``whatsapp``, the privacy notice's version, the language, the
time). A member under 18 by their birthday cannot say yes alone: the domain refuses with
``ParentalConsentRequired`` before writing anything, and the bot says what a parent can do.
"""

from __future__ import annotations

from bot import notice
from bot import replies as rp
from bot.flows.common import CONSENT_SOURCE
from bot.flows.turn import Turn
from bot.keywords import yes_or_no
from bot.messages import Reply
from bot.texts import Texts
from domain import consents
from domain.errors import ParentalConsentRequired

ON, OFF = "cmd:offers_on", "cmd:offers_off"


def question(turn: Turn) -> Reply:
    """The onboarding question: optional, and apart from the updates the member just agreed to."""
    t = turn.t
    body = t._(
        "One more question, and it is up to you: would you also like our offers and promotions on WhatsApp? "
        "Your points updates stay as they are either way. Type OFFERS at any time to change your answer."
    )
    # Its own ids, answered by its onboarding state: not the commands' buttons, which would skip the rest.
    return rp.buttons(body, [("marketing:yes", t._("Yes")), ("marketing:no", t._("No thanks"))])


def answer_given(turn: Turn) -> bool | None:
    """The button pressed, or a typed yes / no; ``None`` for anything else (no consent, we go on)."""
    if turn.choice in ("marketing:yes", "marketing:no"):
        return turn.choice == "marketing:yes"
    if turn.choice is None and turn.text:
        return yes_or_no(turn.text)
    return None


def say_yes(turn: Turn, notice_version: str | None = None) -> Reply:
    """Record a yes (a minor's is refused by the domain before it writes), and say what happened."""
    customer, t = turn.require_customer(), turn.t
    version = notice_version or notice.current(turn.session, t.language).label
    try:
        consents.record(
            turn.session,
            customer,
            consents.MARKETING,
            True,
            channel=CONSENT_SOURCE,
            now=turn.now,
            notice_version=version,
            language=t.language,
        )
    except ParentalConsentRequired:
        return rp.text(parent_needed(t))
    return rp.text(t._("Great: we will send you our offers. Type OFFERS OFF to stop them at any time."))


def say_no(turn: Turn) -> Reply:
    """Record a no (a first answer or a withdrawal; a plain repeat adds no row)."""
    consents.record(
        turn.session,
        turn.require_customer(),
        consents.MARKETING,
        False,
        channel=CONSENT_SOURCE,
        now=turn.now,
        language=turn.t.language,
    )
    return rp.text(turn.t._("OK, no offers. Type OFFERS if you change your mind."))


def parent_needed(t: Texts) -> str:
    return t._(
        "You are under 18, so we need a parent's consent before we can send you offers. "
        "A parent can give it at our store; until then you get no offers."
    )


def show(turn: Turn) -> list[Reply]:
    """OFFERS: the current choice, and a button to switch it."""
    _done(turn)
    customer, t = turn.require_customer(), turn.t
    if customer.marketing_opt_in:
        body = t._(
            "You get our offers on WhatsApp. Press the button or type OFFERS OFF to stop them; "
            "your points updates do not change."
        )
        return [rp.buttons(body, [(OFF, t._("Stop offers")), ("cmd:menu", t._("Menu"))])]
    body = t._("You do not get our offers at the moment. Would you like them on WhatsApp? You can stop them any time.")
    link = t._("Privacy notice: {link}", link=notice.url(turn.session, turn.config, t.language))
    return [rp.buttons(f"{body}\n\n{link}", [(ON, t._("Yes, send offers")), ("cmd:menu", t._("Menu"))])]


def turn_on(turn: Turn) -> list[Reply]:
    """OFFERS ON, or the button."""
    _done(turn)
    customer, t = turn.require_customer(), turn.t
    if customer.marketing_opt_in:
        done = rp.text(t._("You already get our offers. Type OFFERS OFF to stop them."))
    else:
        done = say_yes(turn)
    return [done, rp.buttons(t._("Anything else?"), [("cmd:menu", t._("Menu"))])]


def turn_off(turn: Turn) -> list[Reply]:
    """OFFERS OFF, or the button: withdrawing is one message, as giving is."""
    _done(turn)
    customer, t = turn.require_customer(), turn.t
    if not customer.marketing_opt_in and customer.marketing_changed_at is not None:
        done = rp.text(t._("You do not get our offers. Type OFFERS ON if you would like them."))
    else:
        done = say_no(turn)
    return [done, rp.buttons(t._("Anything else?"), [("cmd:menu", t._("Menu"))])]


def _done(turn: Turn) -> None:
    """Back to the menu; a member who has not finished onboarding (a till enrolled them) starts it next."""
    customer = turn.customer
    turn.goto("menu" if customer is not None and customer.opt_in_changed_at is not None else "start")
