"""A username-only chat links an existing phone membership: a code goes to that number's own chat.

A sender known to us only by their WhatsApp user id (no phone number in the webhook) may
already be a member by phone. They send LINK and type the number; a 6-digit code goes to
that number's own WhatsApp chat, never to this one, and only the code typed back here links
the user id to that membership (``domain.user_ids.link``). The code is kept as a keyed hash in
the conversation's data for ``LINK_MINUTES``; ``LINK_ATTEMPTS`` wrong codes end the try, and a
chat gets at most ``CODES_PER_HOUR`` codes. A number that is no member gets the same answer as
one that is (and no message), so the chat cannot learn who is a member.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import update

from bot import replies as rp
from bot.flows.common import show_menu
from bot.flows.turn import Turn
from bot.messages import Reply, authentication_template
from bot.models import Conversation
from bot.texts import texts_for
from domain import ledger, user_ids
from domain.customers import Customer, find_by_phone
from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from runtime.config import country_code, privacy_key

PHONE_STATE = "link_phone"
CODE_STATE = "link_code"
DATA = ("link_member", "link_hash", "link_expires", "link_tries")
SENT = "link_sent"  # when this chat was sent codes, kept across tries for CODES_PER_HOUR
LINK_MINUTES = 10
LINK_ATTEMPTS = 3
CODES_PER_HOUR = 3


def ask_number(turn: Turn) -> list[Reply]:
    """LINK: only a chat known by user id has something to link."""
    t = turn.t
    if not user_ids.is_user_id(turn.conv.phone):
        return [rp.text(t._("This chat already comes from your phone number: there is nothing to link."))]
    turn.goto(PHONE_STATE)
    return [
        rp.text(
            t._("Type the phone number of your membership. We will send a 6-digit code to that number's WhatsApp chat.")
        )
    ]


def take_number(turn: Turn) -> list[Reply]:
    escaped = _escape(turn)
    if escaped is not None:
        return escaped
    t = turn.t
    try:
        phone = _phone(turn)
    except InvalidPhone:
        example = "+91 98123 45678"
        return [
            rp.text(
                t._(
                    "That does not look like a phone number. Type it with the country code, e.g. {example}.",
                    example=example,
                )
            )
        ]
    if len(_recent_codes(turn)) >= CODES_PER_HOUR:
        _leave(turn)
        return [rp.text(t._("You have asked for several codes already. Please try again in an hour."))]
    member = _member(turn, phone)
    code = f"{secrets.randbelow(10**6):06d}"
    expires = turn.now + dt.timedelta(minutes=LINK_MINUTES)
    member_id = member.id if member is not None else None
    turn.goto(CODE_STATE, link_member=member_id, link_hash=_hash(turn, member_id, code), link_tries=0)
    turn.data["link_expires"] = expires.isoformat()
    turn.data[SENT] = [*_recent_codes(turn), turn.now.isoformat()]
    answer = rp.text(
        t._(
            "If {phone} is a member, its WhatsApp chat has just received a 6-digit code. Type the code here.",
            phone=phone,
        )
    )
    return [answer] if member is None or member.phone is None else [_code_message(turn, member, code), answer]


def take_code(turn: Turn) -> list[Reply]:
    escaped = _escape(turn)
    if escaped is not None:
        return escaped
    t = turn.t
    expires = dt.datetime.fromisoformat(str(turn.data.get("link_expires")))
    if turn.now >= expires:
        _leave(turn)
        return [rp.text(t._("That code has expired. Send LINK to get a new one."))]
    typed = "".join(ch for ch in turn.text if ch.isdigit())
    if len(typed) != 6:
        return [rp.text(t._("Please type the 6-digit code that the number's WhatsApp chat received."))]
    member_id = turn.data.get("link_member")
    expected = str(turn.data.get("link_hash") or "")
    if member_id is None or not hmac.compare_digest(_hash(turn, member_id, typed), expected):
        return _wrong_code(turn)
    return _link(turn, ledger.lock_customer(turn.session, int(member_id)))


def _wrong_code(turn: Turn) -> list[Reply]:
    t = turn.t
    tries = int(turn.data.get("link_tries") or 0) + 1
    if tries >= LINK_ATTEMPTS:
        _leave(turn)
        return [rp.text(t._("That code is not right, and that was the last try. Send LINK to start again."))]
    turn.data["link_tries"] = tries
    left = LINK_ATTEMPTS - tries
    return [rp.text(t.n_("That code is not right. {n} try left.", "That code is not right. {n} tries left.", left))]


def _link(turn: Turn, member: Customer) -> list[Reply]:
    before = member.wa_user_id
    try:
        user_ids.link(turn.session, turn.conv.phone, member, now=turn.now, hash_key=privacy_key(turn.config))
    except user_ids.LinkRefused:
        _leave(turn)
        refused = turn.t._(
            "This chat has a membership with points of its own, so it cannot be linked. Please ask our staff."
        )
        return [rp.text(refused)]
    if before is not None and before != turn.conv.phone:
        _unlink_chat(turn, before)
    turn.remember(member)
    turn.conv.language = member.language
    done = rp.text(
        turn.t.n_(
            "Done! This chat is now linked to your membership. You have {n} point.",
            "Done! This chat is now linked to your membership. You have {n} points.",
            member.points_balance,
        )
    )
    if member.opt_in_changed_at is None:  # enrolled at a till or by the ERP: onboarding asks what is missing
        turn.goto("start")
        return [done, *_start(turn)]
    turn.goto("menu")
    return [done, show_menu(turn)]


def _unlink_chat(turn: Turn, user_id: str) -> None:
    """The chat the membership was linked to before no longer speaks for it (the number proved it is elsewhere)."""
    turn.session.execute(
        update(Conversation)
        .where(Conversation.phone == user_id)
        .values(customer_id=None, state="start")
        .execution_options(synchronize_session=False)
    )


def _phone(turn: Turn) -> str:
    return normalize_phone(turn.text, country_code(turn.config))


def _member(turn: Turn, phone: str) -> Customer | None:
    found = find_by_phone(turn.session, phone)
    return found if found is not None and not found.is_erased else None


def _code_message(turn: Turn, member: Customer, code: str) -> Reply:
    """The code, to the number's own chat, in its member's language."""
    t = texts_for(member.language, turn.config)
    body = t._(
        "Your code to link a WhatsApp chat to your membership: {code}. It expires in {minutes} minutes. "
        "If you did not ask for it, ignore this message: nothing changes.",
        code=code,
        minutes=LINK_MINUTES,
    )
    template = authentication_template(turn.rules.templates.get("link_code", "link_code"), t.language, code)
    return Reply(kind="text", body=body, to=member.phone, outside_window=template)


def _hash(turn: Turn, member_id: object, code: str) -> str:
    key = str(turn.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, f"{turn.conv.phone}|{member_id}|{code}".encode(), hashlib.sha256).hexdigest()


def _recent_codes(turn: Turn) -> list[str]:
    hour_ago = turn.now - dt.timedelta(hours=1)
    return [at for at in turn.data.get(SENT, []) if dt.datetime.fromisoformat(at) > hour_ago]


def _escape(turn: Turn) -> list[Reply] | None:
    """A command typed instead of a number or a code (MENU, HI, POINTS) ends the try and is answered."""
    asked = turn.command.name if turn.command is not None else None
    if asked is None or asked not in turn.table.commands:
        return None
    _leave(turn)
    if turn.conv.state == "menu":
        return turn.table.commands[asked].handler(turn)
    return _start(turn)


def _start(turn: Turn) -> list[Reply]:
    """First contact (``bot.flows.onboarding.start``), through the table: onboarding offers this flow."""
    return turn.table.states["start"].handler(turn)


def typed_a_number(turn: Turn) -> bool:
    """A chat known by user id answered first contact with a phone number: it means "link this one"."""
    if not user_ids.is_user_id(turn.conv.phone) or sum(ch.isdigit() for ch in turn.text) < 7:
        return False
    try:
        _phone(turn)
    except InvalidPhone:
        return False
    return True


def _leave(turn: Turn) -> None:
    """Back to where the chat was: the menu for a member who finished onboarding, else the start."""
    customer = turn.customer
    turn.goto("menu" if customer is not None and customer.opt_in_changed_at is not None else "start")
