"""Members known by a WhatsApp business-scoped user id, and linking one to a phone membership.

A sender who adopted a WhatsApp username may reach us without a phone number: Meta then sends
only their business-scoped user id (``IN.1234567890123456``: a country, a dot, up to 128
letters and digits), stable for this business. Invariants:

- at most one member holds a user id (``customers.wa_user_id`` is unique);
- a member who joined from such a chat has no phone (``customers.phone`` is empty);
- a user id moves to a phone membership only by :func:`link`, which the chat calls after the
  number's own WhatsApp chat received a code and the code came back; a user id whose own
  membership already has points is never moved (merging two ledgers is staff work).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import erasure
from domain.customers import LANGUAGES, Customer, find_by_phone, new_member
from domain.errors import InvalidPhone, InvalidTransition, ValidationError

_USER_ID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")


class LinkRefused(InvalidTransition):
    """The user id's own membership has points: it cannot simply be replaced."""


def is_user_id(value: str) -> bool:
    """A business-scoped user id (or a parent one, ``US.ENT....``), as Meta documents their form."""
    return bool(_USER_ID.match(value))


def find_by_user_id(session: Session, user_id: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.wa_user_id == user_id))


def find_member(session: Session, address: str) -> Customer | None:
    """The member a chat belongs to: by its phone, or by the user id it writes from."""
    if is_user_id(address):
        return find_by_user_id(session, address)
    with contextlib.suppress(InvalidPhone):
        return find_by_phone(session, address)
    return None


def enrol(session: Session, user_id: str, name: str | None, language: str, now: dt.datetime) -> tuple[Customer, bool]:
    """The member this user id belongs to, or a new one without a phone; ``(customer, created)``."""
    if not is_user_id(user_id):
        raise ValidationError("not a WhatsApp user id")
    if language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}")
    existing = find_by_user_id(session, user_id)
    if existing is not None:
        return existing, False
    customer = new_member(session, now, phone=None, wa_user_id=user_id, name=name, language=language, source="whatsapp")
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        winner = find_by_user_id(session, user_id)  # two first messages at once: theirs wins
        if winner is None:
            raise
        return winner, False
    return customer, True


def has_history(customer: Customer) -> bool:
    """Points earned, owed, held or left: a membership that is more than a name."""
    return bool(customer.lifetime_points or customer.points_balance or customer.points_owed or customer.points_held)


def link(session: Session, user_id: str, member: Customer, *, now: dt.datetime, hash_key: str) -> Customer:
    """Let ``member`` (a phone membership whose chat proved it) be reached from ``user_id`` too.

    The user id's own membership, if any, is empty (else ``LinkRefused``): it is erased as
    folded into ``member``, so the program keeps one member per person.
    """
    if member.is_erased or member.phone is None:
        raise InvalidTransition("only a phone membership can be linked")
    own = find_by_user_id(session, user_id)
    if own is not None and own.id != member.id:
        if has_history(own):
            raise LinkRefused("this chat's own membership has points")
        own.wa_user_id = None
        session.flush()
        erasure.erase(session, own.id, now=now, actor="bot:link", hash_key=hash_key, reason="linked")
    member.wa_user_id = user_id
    session.flush()
    return member
