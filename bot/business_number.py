"""The business's own WhatsApp number, for the ``wa.me`` links customers share.

``WHATSAPP_DISPLAY_NUMBER`` wins when it is set. Otherwise the number comes from the Graph
API (``GET /{version}/{WHATSAPP_PHONE_ID}?fields=display_phone_number,verified_name``),
read by the scheduler when it starts and every few hours (``bot.jobs.refresh_business_number``),
and by each process that starts sending if the stored one is unknown or old (``refresh_if_due``),
and kept in the ``settings`` row ``whatsapp_number``, so every worker reads the same value
without calling Meta. A failed read keeps the number already known and records why in
words; it never touches sending. With no number known the bot hands out no link (a
``wa.me/?text=`` link opens no chat), and ``/health`` and the console's settings page say so.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from bot.statements import insert_ignore
from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from domain.rules import Setting

log = logging.getLogger(__name__)

SETTING_KEY = "whatsapp_number"
FIELDS = ("display_phone_number", "verified_name")


@runtime_checkable
class NumberLookup(Protocol):
    """A sender that can ask the Graph API about its own phone number (the real one can)."""

    def business_number(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class BusinessNumber:
    digits: str | None  # country code and number, digits only: what wa.me takes
    display: str | None  # as Meta or the setting writes it (+91 98000 11111)
    verified_name: str | None
    source: str  # "setting", "graph" or "none"
    checked_at: dt.datetime | None  # the last read from the Graph API, successful or not
    problem: str | None  # in words, when no number is known or the last read failed

    @property
    def known(self) -> bool:
        return self.digits is not None


_WRITTEN = re.compile(r"\+?[\d\s().\-/]+")


def digits_of(raw: object, default_country_code: int = 91) -> str | None:
    """``+1 555-096-7852`` -> ``15550967852``, what wa.me takes; ``None`` for what is not a phone number.

    A national form (``098000 12345``, ten digits or fewer) gets the default country code. Numbers
    are not checked against numbering plans: Meta's own test numbers are +1 555 numbers.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not _WRITTEN.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00") and not text.startswith("+"):
        digits = digits[2:]
    elif not text.startswith("+") and (digits.startswith("0") or len(digits) <= 10):
        try:
            digits = normalize_phone(text, default_country_code).lstrip("+")
        except InvalidPhone:
            return None
    return digits if 8 <= len(digits) <= 15 else None


def current(session: Session, config: Mapping[str, Any]) -> BusinessNumber:
    """The number to put in links now, and where it came from (or why there is none)."""
    cc = int(config.get("DEFAULT_COUNTRY_CODE") or 91)
    configured = config.get("WHATSAPP_DISPLAY_NUMBER")
    stored = _stored(session)
    checked = _time(stored.get("checked_at"))
    digits = digits_of(configured, cc)
    if digits:
        return BusinessNumber(digits, str(configured), None, "setting", checked, None)
    from_graph = digits_of(stored.get("display_phone_number"), cc)
    name = stored.get("verified_name")
    if from_graph:
        problem = stored.get("problem")
        return BusinessNumber(from_graph, str(stored["display_phone_number"]), name, "graph", checked, problem)
    return BusinessNumber(None, None, name, "none", checked, _why_unknown(config, configured, stored))


def _why_unknown(config: Mapping[str, Any], configured: object, stored: Mapping[str, Any]) -> str:
    if configured:
        return "WHATSAPP_DISPLAY_NUMBER is not a valid phone number"
    if not config.get("WHATSAPP_TOKEN") or not config.get("WHATSAPP_PHONE_ID"):
        return "WHATSAPP_DISPLAY_NUMBER is not set and there are no WhatsApp credentials to read it from the Graph API"
    problem = stored.get("problem")
    if problem:
        return f"the Graph API did not give the number: {problem}"
    return "not read from the Graph API yet (the scheduler reads it when it starts)"


def refresh(session: Session, lookup: object, now: dt.datetime, config: Mapping[str, Any]) -> BusinessNumber:
    """Ask the Graph API through ``lookup`` (the app's sender) and store the answer or why there is none.

    Never raises for the API's sake: a failure keeps the number read before, with the reason.
    """
    stored = dict(_stored(session))
    stored["checked_at"] = now.isoformat()
    if not isinstance(lookup, NumberLookup):
        stored["problem"] = "no WhatsApp credentials"
    else:
        try:
            answer = lookup.business_number()
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, sending must not notice
            log.warning("WhatsApp business number: the Graph API read failed (%s)", type(exc).__name__)
            stored["problem"] = _reason(exc)
        else:
            stored.update(_answer(answer, int(config.get("DEFAULT_COUNTRY_CODE") or 91)))
    _store(session, stored, now)
    return current(session, config)


REFRESH_EVERY = dt.timedelta(hours=6)
RETRY_UNKNOWN_AFTER = dt.timedelta(minutes=1)


def refresh_if_due(session: Session, lookup: object, now: dt.datetime, config: Mapping[str, Any]) -> bool:
    """``refresh`` unless the setting gives the number, or the stored one was read less than 6 hours
    ago (an unknown one: a minute ago). For a process that starts sending, so links work even
    before the scheduler's first run; True if it asked."""
    if digits_of(config.get("WHATSAPP_DISPLAY_NUMBER"), int(config.get("DEFAULT_COUNTRY_CODE") or 91)):
        return False
    stored = _stored(session)
    checked = _time(stored.get("checked_at"))
    wait = REFRESH_EVERY if digits_of(stored.get("display_phone_number")) else RETRY_UNKNOWN_AFTER
    if checked is not None and now - checked < wait:
        return False
    refresh(session, lookup, now, config)
    return True


def _answer(answer: Mapping[str, Any], default_country_code: int) -> dict[str, Any]:
    display, name = answer.get("display_phone_number"), answer.get("verified_name")
    found: dict[str, Any] = {"verified_name": str(name)[:200] if isinstance(name, str) else None}
    if digits_of(display, default_country_code) is None:
        found["problem"] = "the answer had no usable display_phone_number"
        return found
    return {**found, "display_phone_number": str(display)[:40], "problem": None}


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return str(reason)[:200]


def _stored(session: Session) -> Mapping[str, Any]:
    row = session.get(Setting, SETTING_KEY)
    return row.value if row is not None and isinstance(row.value, dict) else {}


def _store(session: Session, value: dict[str, Any], now: dt.datetime) -> None:
    """Insert the row if no one has (the scheduler and a console click may race at first), then update it."""
    fields = {"key": SETTING_KEY, "value": {}, "updated_at": now, "updated_by": "graph-api"}
    insert_ignore(session, Setting.__table__, "key", fields, ("key",))
    row = session.get(Setting, SETTING_KEY, populate_existing=True, with_for_update=True)
    if row is not None:
        row.value, row.updated_at, row.updated_by = value, now, "graph-api"


def _time(raw: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def wa_link(number: BusinessNumber, code: str) -> str | None:
    """A link that opens a chat with the business, ``JOIN <code>`` already typed; ``None`` without a number."""
    return f"https://wa.me/{number.digits}?text=JOIN%20{code}" if number.digits else None
