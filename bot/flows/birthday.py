"""The member's birthday, told in the chat: BIRTHDAY asks for the date, the next message gives it.

The date is read by ``domain.birthdays`` (``14/08``, ``14-08-1990``, ``14 Aug``, ``1990-08-14``,
Hindi month names; the year is optional) and stored through ``domain.consents.set_birthday``, the
one writer of a birthday: a date that makes the member under 18 withdraws their offers there, and
the bot says so. A date that cannot be read, or lies in the future, is refused with an example and
the question stays open. New members are offered this once, when onboarding ends (:func:`offer`);
it never holds up the menu.
"""

from __future__ import annotations

from bot import replies as rp
from bot.flows.common import CONSENT_SOURCE, fallback, show_menu
from bot.flows.turn import Turn
from bot.messages import Reply
from bot.texts import Texts
from domain import birthdays, consents
from domain.birthdays import Refused
from domain.errors import ValidationError

STATE = "birthday"


def ask(turn: Turn) -> list[Reply]:
    """BIRTHDAY: ask for the date (saying which one we have, if any)."""
    customer, t = turn.require_customer(), turn.t
    turn.goto(STATE)
    if customer.birthday is not None:
        known = t._("We have your birthday as {date}.", date=t.birthday(customer.birthday))
        lines = [known, t._("To change it, type the new date."), _example(t)]
    else:
        lines = [t._("When is your birthday? We like to celebrate it with you."), _example(t)]
    body = " ".join(lines)
    return [rp.buttons(body, [("cmd:menu", t._("Menu"))])]


def answer(turn: Turn) -> list[Reply]:
    """The message after BIRTHDAY: the date, stored; or a refusal that asks again."""
    if turn.incoming.kind != "text" or not turn.text:
        return fallback(turn)
    customer, t = turn.require_customer(), turn.t
    born = birthdays.read(turn.text, turn.now.date())
    if isinstance(born, Refused):
        return [rp.buttons(f"{_refusal(t, born)} {_example(t)}", [("cmd:menu", t._("Menu"))])]
    try:
        withdrawn = consents.set_birthday(turn.session, customer, born, channel=CONSENT_SOURCE, now=turn.now)
    except ValidationError:  # the domain's own check of the future, by its clock
        return [rp.buttons(f"{_refusal(t, Refused.FUTURE)} {_example(t)}", [("cmd:menu", t._("Menu"))])]
    turn.goto("menu")
    lines = [t._("Thank you! We have saved your birthday: {date}.", date=t.birthday(born))]
    if withdrawn:
        lines.append(
            t._("As you are under 18, we have stopped our offers to you; a parent can agree to them at our store.")
        )
    return [show_menu(turn, "\n".join(lines))]


def offer(turn: Turn) -> list[Reply]:
    """Once, as onboarding ends: a button to tell us the birthday, when we do not know it yet."""
    customer, t = turn.require_customer(), turn.t
    if customer.birthday is not None:
        return []
    body = t._("One more thing, if you like: tell us your birthday and we will have a treat for you on the day.")
    return [rp.buttons(body, [("cmd:birthday", t._("Add my birthday"))])]


def _example(t: Texts) -> str:
    return t._("Type it like 14/08 or 14 Aug 1990 (the year is up to you).")


def _refusal(t: Texts, why: Refused) -> str:
    if why is Refused.FUTURE:
        return t._("That date is in the future, so it cannot be your birthday.")
    if why is Refused.TOO_OLD:
        return t._("That date is too long ago; please check the year.")
    return t._("Sorry, I could not read that as a date.")
