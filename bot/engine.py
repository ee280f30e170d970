"""The conversation engine: one inbound message in, the replies out.

The conversation lives in the ``conversations`` row (state, data, language,
hand-off), locked for the transaction by ``bot.conversations.load``, so it
survives restarts and every worker sees the same one. What each state does is
declared in ``bot.flows``; this module only decides which handler runs:

1. a pressed button, or a typed number or title of the last offered options, is a *choice*;
   a ``cmd:`` choice or a typed keyword is a *command*;
2. a conversation handed to staff gets no answer, except to STOP and START;
3. after ``BOT_IDLE_MINUTES`` of silence a half-finished flow goes back to the menu;
4. until onboarding is finished the state's handler runs; after it, a command wins over the state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot import conversations, flows, keywords
from bot import replies as rp
from bot.messages import Incoming, NeedsSavepoint, Reply
from bot.models import Conversation
from bot.texts import texts_for
from domain.customers import Customer, find_by_phone
from domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT_IDLE_MINUTES = 30
ALWAYS_ANSWERED = frozenset({"stop", "start"})


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
    turn = flows.Turn(session, conv, incoming, now, config, data=dict(conv.data or {}))
    turn.choice = _choice(incoming, turn.data)
    turn.command = _command(incoming, turn)
    if conv.handoff and (turn.command is None or turn.command.name not in ALWAYS_ANSWERED):
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


def _command(incoming: Incoming, turn: flows.Turn) -> keywords.Command | None:
    if turn.choice and turn.choice.startswith("cmd:"):
        command = keywords.Command(turn.choice[4:])
        turn.choice = None
        return command
    if turn.choice is None and incoming.kind == "text":
        command = keywords.match(incoming.text)
        if command is not None:
            return command
    if incoming.referral_code:
        return keywords.Command("join", incoming.referral_code)
    return None


def _reset_if_idle(turn: flows.Turn, config: Mapping[str, Any]) -> None:
    """A flow left half-way (a reward picked, never confirmed) does not wait forever."""
    last = turn.data.get("at")
    idle = dt.timedelta(minutes=int(config.get("BOT_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES))
    if last and turn.now - dt.datetime.fromisoformat(last) >= idle and turn.conv.state not in flows.ONBOARDING:
        turn.goto("menu")
        turn.data.pop("options", None)
        turn.choice = None


def _safely(turn: flows.Turn, guarded: bool) -> list[Reply]:
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


def _route(turn: flows.Turn) -> list[Reply]:
    name = turn.command.name if turn.command else None
    if name == "stop":
        return flows.stop(turn)
    if name == "agent":
        return flows.hand_off(turn)
    customer = turn.customer
    if name == "start" and customer is not None and customer.opt_in_changed_at is not None:
        return flows.start_again(turn)
    if turn.conv.state in flows.ONBOARDING or turn.customer is None:
        code = turn.command.argument if turn.command and name == "join" else turn.incoming.referral_code
        if code:
            turn.data["pending_code"] = code
        if turn.conv.state not in flows.ONBOARDING:
            turn.goto("start")
        return flows.STATES[turn.conv.state](turn)
    if name is not None and name in flows.COMMANDS:
        return flows.COMMANDS[name](turn)
    return flows.STATES.get(turn.conv.state, flows.fallback)(turn)


def _remember(turn: flows.Turn, out: list[Reply]) -> None:
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
    customer: Customer | None = find_by_phone(session, phone)
    return customer.language if customer is not None else None


def flood_notice(session: Session, phone: str) -> Reply:
    """The one notice a number gets when it floods the bot, in its language."""
    t = texts_for(_language(session, phone), {})
    return rp.text(t._("You are sending messages very quickly. I will pause for a few minutes, then answer again."))


def apology(session: Session, phone: str) -> Reply:
    """What the transport sends when handling a message failed, in the customer's language."""
    t = texts_for(_language(session, phone), {})
    return rp.text(t._("Sorry, something went wrong on our side. Please try again in a moment."))
