"""Help, and what customers set for themselves: updates on or off (STOP / START), their language.

STOP ends every message we send first, offers included; START brings back the service updates
only, since offers are their own yes (``bot.flows.offers``).
"""

from __future__ import annotations

from bot import replies as rp
from bot.flows.common import CONSENT_SOURCE, fallback, show_menu
from bot.flows.onboarding import language_question, picked_language
from bot.flows.turn import Turn
from bot.messages import Reply
from domain import consents


def show_help(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    t = turn.t
    body = t._(
        "You can press the buttons, or type: POINTS, HISTORY, REDEEM, REFER, MENU, LANGUAGE, BIRTHDAY. "
        "OFFERS ON and OFFERS OFF switch our offers; STOP ends all our updates, START brings them back."
    )
    return [rp.buttons(body, [("cmd:agent", t._("Talk to a person")), ("cmd:menu", t._("Menu"))])]


def stop(turn: Turn) -> list[Reply]:
    customer = turn.customer
    if customer is not None:
        # STOP ends every message we send first: service updates and marketing alike.
        for purpose in consents.PURPOSES:
            consents.record(turn.session, customer, purpose, False, channel=CONSENT_SOURCE, now=turn.now)
    return [
        rp.text(
            turn.t._(
                "You will no longer get loyalty updates from us. You can still write to us at any time; "
                "send START to get updates again."
            )
        )
    ]


def start_again(turn: Turn) -> list[Reply]:
    customer = turn.require_customer()
    consents.record(turn.session, customer, consents.SERVICE, True, channel=CONSENT_SOURCE, now=turn.now)
    done = rp.text(turn.t._("Welcome back! You will get loyalty updates again. Send STOP to end them."))
    if turn.conv.handoff:
        return [done]
    turn.goto("menu")
    return [done, show_menu(turn)]


def ask_language(turn: Turn) -> list[Reply]:
    turn.goto("settings_language")
    return [language_question(turn, None, greet=False)]


def change_language(turn: Turn) -> list[Reply]:
    lang = picked_language(turn)
    if lang is None:
        return fallback(turn)
    turn.conv.language = lang
    turn.require_customer().language = lang
    turn.goto("menu")
    return [show_menu(turn, turn.t._("Done: I will write to you in English."))]
