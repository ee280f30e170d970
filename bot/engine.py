"""The conversation engine: one inbound message in, the replies out.

The conversation lives in the ``conversations`` row (state, data, language,
hand-off), locked for the transaction by ``bot.conversations.load``, so it
survives restarts and every worker sees the same one. Which flow answers what is
declared in the table ``bot.flows.table``; this module reads it:

1. a pressed button, or a typed number or title of the last offered options, is a *choice*;
   a ``cmd:`` choice, a button of a command, or a typed keyword is a *command*;
2. a conversation handed to staff gets no answer, except to the commands answered while handed off;
3. after ``BOT_IDLE_MINUTES`` of silence a half-finished flow goes back to the menu;
4. a command is answered if it reaches that far into the conversation (STOP always, the menu's
   commands once onboarding is finished); anything else goes to the handler of the state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot import conversations, keywords
from bot import replies as rp
from bot.flows.common import fallback
from bot.flows.table import COMMAND_BUTTON, JOIN, TABLE, Command, Reach
from bot.flows.turn import Turn
from bot.messages import Incoming, NeedsSavepoint, Reply
from bot.models import Conversation
from bot.texts import texts_for
from domain import user_ids
from domain.customers import Customer
from domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT_IDLE_MINUTES = 30


ACTIVE_EVERY = dt.timedelta(minutes=5)  # how stale ``Customer.last_active_at`` may get


def handle(
    session: Session,
    incoming: Incoming,
    now: dt.datetime,
    config: Mapping[str, Any],
    conv: Conversation | None = None,
    *,
    guarded: bool = True,
) -> list[Reply]:
    """Answer one inbound message; ``[]`` while staff have the conversation.

    ``conv`` is the conversation already locked by the caller (``conversations.lock``; the
    caller saves it), else it is loaded here. Unless ``guarded``, the handler runs without a
    savepoint and a domain error raises :class:`NeedsSavepoint`: the caller rolls back and
    runs the message again guarded. Most messages only read, so most need no savepoint.
    """
    if conv is None:
        conv = conversations.load(session, incoming.phone, now)
    turn = Turn(session, conv, incoming, now, config, data=dict(conv.data or {}), table=TABLE)
    turn.choice = _choice(incoming, turn.data)
    turn.command = _command(incoming, turn)
    command = _asked(turn)
    if conv.handoff and (command is None or not command.while_handed_off):
        return []
    _reset_if_idle(turn, config)
    out = _safely(turn, guarded)
    _remember(turn, out)
    return out


def _choice(incoming: Incoming, data: Mapping[str, Any]) -> str | None:
    """The id of what the customer picked: a button or row, or its number or title typed out."""
    if incoming.reply_id:
        return incoming.reply_id
    offered = [(str(i), str(title)) for i, title in data.get("options", [])]
    text = (incoming.text or "").strip()
    if incoming.kind != "text" or not text or not offered:
        return None
    if text.isdigit() and 1 <= int(text) <= len(offered):
        return offered[int(text) - 1][0]
    typed = keywords.normalize(text)
    return next((i for i, title in offered if keywords.normalize(title) == typed), None)


def _command(incoming: Incoming, turn: Turn) -> keywords.Command | None:
    """The command the message asks for: pressed (no longer a choice then), typed, or from a referral link."""
    pressed = _pressed(turn.choice) if turn.choice else None
    if pressed is not None:
        turn.choice = None
        return pressed
    if turn.choice is None and incoming.kind == "text":
        typed = TABLE.keywords.match(incoming.text)
        if typed is not None:
            return typed
    if incoming.referral_code:
        return keywords.Command(JOIN, incoming.referral_code)
    return None


def _pressed(choice: str) -> keywords.Command | None:
    if choice.startswith(COMMAND_BUTTON):
        return keywords.Command(choice[len(COMMAND_BUTTON) :])
    name = next((name for prefix, name in TABLE.buttons if choice.startswith(prefix)), None)
    return keywords.Command(name, choice) if name else None


def _asked(turn: Turn) -> Command | None:
    """The table's row of the command the message asks for, if there is one."""
    return TABLE.commands.get(turn.command.name) if turn.command else None


def _reset_if_idle(turn: Turn, config: Mapping[str, Any]) -> None:
    """A flow left half-way (a reward picked, never confirmed) does not wait forever."""
    last = turn.data.get("at")
    idle = dt.timedelta(minutes=int(config.get("BOT_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES))
    if last and turn.now - dt.datetime.fromisoformat(last) >= idle and turn.conv.state not in TABLE.onboarding:
        turn.goto("menu")
        turn.data.pop("options", None)
        turn.choice = None


def _safely(turn: Turn, guarded: bool) -> list[Reply]:
    """Run the handler in a savepoint: a domain error undoes its writes and gets a polite answer."""
    if not guarded:
        try:
            return _route(turn)
        except DomainError as exc:
            raise NeedsSavepoint(exc.code) from exc
    before = conversations.snapshot(turn.conv)
    try:
        with turn.session.begin_nested():
            return _route(turn)
    except DomainError as exc:
        log.info("domain error in conversation: %s", exc.code)
        conversations.restore(turn.conv, before)
        turn.conv.state = "menu" if turn.conv.customer_id else "start"
        turn.forget_customer()
        return [rp.text(turn.t._("Sorry, that did not work. Please try again or type HELP."))]


def _route(turn: Turn) -> list[Reply]:
    command = _asked(turn)
    if command is not None and command.reach is Reach.ANYONE:
        return command.handler(turn)
    customer = turn.customer
    consented = customer is not None and customer.opt_in_changed_at is not None
    if command is not None and command.reach is Reach.CONSENTED and consented:
        return command.handler(turn)
    if command is not None and command.reach is Reach.MEMBER and customer is not None:
        turn.remember(customer)
        return command.handler(turn)
    if turn.conv.state in TABLE.onboarding or customer is None:
        return _onboard(turn)
    if command is not None:
        return command.handler(turn)
    state = TABLE.states.get(turn.conv.state)
    return state.handler(turn) if state is not None else fallback(turn)


def _onboard(turn: Turn) -> list[Reply]:
    """Until onboarding is finished its states answer; a code the message came with waits for its end."""
    asked = turn.command
    code = asked.argument if asked is not None and asked.name == JOIN else turn.incoming.referral_code
    if code:
        turn.data["pending_code"] = code
    if turn.conv.state not in TABLE.onboarding:
        turn.goto("start")
    return TABLE.states[turn.conv.state].handler(turn)


def _remember(turn: Turn, out: list[Reply]) -> None:
    """Store what was offered (so a typed number answers it) and when, on the row."""
    for reply in out:
        rp.validate(reply)
    offered = [rp.options(r) for r in out if r.kind != "text"]
    turn.data["options"] = [list(o) for o in offered[-1]] if offered else []
    turn.data["at"] = turn.now.isoformat()
    turn.conv.data = turn.data
    turn.conv.updated_at = turn.now
    customer = turn.customer
    if customer is not None:
        turn.conv.customer_id = customer.id
        # Minutes are precise enough for "last active" and "active in 30 days"; a row write per
        # message of a conversation is not.
        if customer.last_active_at is None or turn.now - customer.last_active_at >= ACTIVE_EVERY:
            customer.last_active_at = turn.now


def _language(session: Session, phone: str) -> str | None:
    conv = session.get(Conversation, phone)
    if conv is not None and conv.language:
        return conv.language
    customer: Customer | None = user_ids.find_member(session, phone)
    return customer.language if customer is not None else None


def flood_notice(session: Session, phone: str) -> Reply:
    """The one notice a number gets when it floods the bot, in its language."""
    t = texts_for(_language(session, phone), {})
    return rp.text(t._("You are sending messages very quickly. I will pause for a few minutes, then answer again."))


def apology(session: Session, phone: str) -> Reply:
    """What the transport sends when handling a message failed, in the customer's language."""
    t = texts_for(_language(session, phone), {})
    return rp.text(t._("Sorry, something went wrong on our side. Please try again in a moment."))
