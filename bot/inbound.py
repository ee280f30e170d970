"""Meta's webhook JSON in, plain values out: ``Incoming`` messages and ``StatusUpdate`` records.

We read the raw payload ourselves instead of pywa's typed updates because pywa 4.5
only looks at ``entry[0].changes[0].value.messages[0]`` and drops any update whose
``contacts[]`` lacks the newer ``user_id`` (``User.from_contact`` raises ``KeyError``).
Meta still sends both generations, and may batch several messages in one POST.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import payload_clean as clean
from bot.messages import Incoming
from domain.errors import InvalidPhone
from domain.phones import normalize_phone

MEDIA_KINDS = ("image", "sticker", "audio", "video", "document")
log = logging.getLogger(__name__)
_JOIN = re.compile(r"^\s*join\s+([A-Za-z0-9_-]{3,32})\s*$", re.IGNORECASE)


class PayloadError(ValueError):
    """The body is JSON but not a WhatsApp Business Account update."""


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report for one of our outgoing messages."""

    wa_message_id: str
    status: str  # sent | delivered | read | failed | (others are ignored)
    at: dt.datetime | None = None
    error_code: str | None = None
    error: str | None = None
    # ``biz_opaque_callback_data``: what we sent with the message (a campaign message's key).
    tracker: str | None = None


@dataclass(frozen=True)
class AccountEvent:
    """About the number or a template, not a message: quality ratings and template reviews."""

    kind: str  # quality (the phone number) | template
    event: str  # FLAGGED, UNFLAGGED, DOWNGRADE, RED, ... | APPROVED, REJECTED, PAUSED, DISABLED, RED, ...
    template_name: str | None = None
    template_language: str | None = None
    reason: str | None = None


# The webhook fields that carry them.
ACCOUNT_FIELDS = ("phone_number_quality_update", "message_template_status_update", "message_template_quality_update")


@dataclass(frozen=True)
class PreferenceUpdate:
    """WhatsApp's "Stop promotions" / resume for one user (the ``user_preferences`` webhook)."""

    phone: str  # the member's address: E.164, or the user id of a member known by username only
    value: str  # stop | resume
    at: dt.datetime | None = None


@dataclass(frozen=True)
class ParsedMessage:
    """One parsed message with the raw message object kept for storage."""

    incoming: Incoming
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Update:
    """Everything one webhook POST carried."""

    messages: tuple[ParsedMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    unknown_senders: int = 0  # messages whose sender had no phone number or user id we could use
    preferences: tuple[PreferenceUpdate, ...] = ()
    account_events: tuple[AccountEvent, ...] = ()
    dropped: int = 0  # elements that could not be read or stored (each logged on its own)


def parse(body: Any, default_country_code: int = 91) -> Update:
    """Parse a decoded webhook body; ``PayloadError`` if it is not a WhatsApp update at all."""
    values = list(_values(body))
    messages: list[ParsedMessage] = []
    statuses: list[StatusUpdate] = []
    preferences = [
        found
        for value in _values(body, "user_preferences")
        for raw in _list(value.get("user_preferences"))
        if (found := parse_preference(raw, default_country_code)) is not None
    ]
    unknown = dropped = 0
    for value in values:
        contacts = _list(value.get("contacts"))
        for index, raw in enumerate(_list(value.get("messages"))):
            try:
                changed = parse_system_preference(raw, default_country_code)
                if changed is not None:
                    preferences.append(changed)
                    continue
                parsed = parse_message(raw, contacts, default_country_code)
            except UNREADABLE as exc:  # whatever Meta (or someone) sends, it costs this element only
                log.warning("webhook: message %d of a change dropped: %s", index, _reason(exc))
                dropped += 1
                continue
            if parsed is None:
                unknown += 1
            else:
                messages.append(parsed)
        for index, raw in enumerate(_list(value.get("statuses"))):
            try:
                report = parse_status(raw)
            except UNREADABLE as exc:
                log.warning("webhook: status %d of a change dropped: %s", index, _reason(exc))
                dropped += 1
                continue
            if report is not None:
                statuses.append(report)
    events = []
    for name in ACCOUNT_FIELDS:
        for value in _values(body, name):
            try:
                event = parse_account(name, value)
            except UNREADABLE as exc:
                log.warning("webhook: %s dropped: %s", name, _reason(exc))
                dropped += 1
                continue
            if event is not None:
                events.append(event)
    return Update(
        tuple(messages),
        tuple(statuses),
        unknown,
        tuple(preferences),
        account_events=tuple(events),
        dropped=dropped,
    )


class Unusable(ValueError):
    """One element of a batch that cannot be stored (its id is too long, ...); the rest can."""


# What reading one odd element can raise: a type where another was expected, too deep a value, ...
UNREADABLE = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError, UnicodeError)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Unusable) else f"unreadable ({type(exc).__name__})"


def parse_account(field: str, value: Mapping[str, Any]) -> AccountEvent | None:
    """A quality or template webhook's ``value``; the quality's colour counts when Meta sends one."""
    colour = value.get("new_quality_score") or value.get("quality_rating") or value.get("quality_score")
    event = str(colour if colour == "RED" or field == "message_template_quality_update" else value.get("event") or "")
    if not event:
        return None
    other: Mapping[str, Any] = value.get("other_info") or {} if isinstance(value.get("other_info"), dict) else {}
    reason = _str(value.get("reason")) or _str(other.get("description")) or None
    if field == "phone_number_quality_update":
        return AccountEvent("quality", event.upper(), reason=reason)
    return AccountEvent(
        "template",
        event.upper(),
        template_name=_str(value.get("message_template_name")),
        template_language=_str(value.get("message_template_language")),
        reason=reason,
    )


def _values(body: Any, field: str = "messages") -> Iterator[dict[str, Any]]:
    """The ``value`` of every change of ``field`` in every entry."""
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    if body.get("object") != "whatsapp_business_account":
        raise PayloadError('"object" must be "whatsapp_business_account"')
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise PayloadError('"entry" must be a list')
    # An odd entry or change costs only itself (logged once, when the messages are read).
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            if field == "messages":
                log.warning("webhook: entry %d dropped: not an object with a changes list", index)
            continue
        for change in entry.get("changes", []):
            if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
                if field == "messages":
                    log.warning("webhook: a change of entry %d dropped: not an object with a value object", index)
                continue
            if change.get("field", "messages") == field:
                yield change.get("value", {})


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _message_id(value: Any) -> str | None:
    """WhatsApp's id, if it fits the column (``Unusable`` if it does not: it could never be de-duplicated)."""
    found = _str(value)
    if found is not None and len(found) > clean.MAX_ID:
        raise Unusable(f"its id is {len(found)} characters long (at most {clean.MAX_ID})")
    return found


def parse_message(raw: Mapping[str, Any], contacts: list[dict[str, Any]], country: int = 91) -> ParsedMessage | None:
    """One message object; ``None`` when it carries no usable sender (phone number or user id) or id.

    The chat's address is the phone number when Meta sends one, else the business-scoped user
    id of a sender with a WhatsApp username (``from`` absent, ``from_user_id`` and the contact's
    ``user_id`` present): that sender is answered, and known, by the user id.
    """
    contact = _contact_for(raw, contacts)
    user_id = _user_id(raw, contact)
    address = _phone(raw, contact, country) or user_id
    message_id = _message_id(raw.get("id"))
    if address is None or message_id is None:
        return None
    kind, text, reply_id = _content(raw)
    incoming = Incoming(
        message_id=message_id,
        phone=address,
        kind=kind,
        text=text,
        reply_id=reply_id,
        wa_user_id=user_id,
        profile_name=clean.name(_dict(contact.get("profile")).get("name")),
        referral_code=_referral_code(text if kind == "text" else None),
    )
    return ParsedMessage(incoming, clean.clean_json(dict(raw)))


def _contact_for(raw: Mapping[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """The contact that sent ``raw``: matched by wa_id or user id, else the only one."""
    sender = raw.get("from")
    sender_user = raw.get("from_user_id")
    for contact in contacts:
        if sender and contact.get("wa_id") == sender:
            return contact
        if sender_user and contact.get("user_id") == sender_user:
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _user_id(raw: Mapping[str, Any], contact: Mapping[str, Any]) -> str | None:
    """The sender's business-scoped user id, wherever this generation of the payload puts it."""
    for candidate in (contact.get("user_id"), raw.get("from_user_id"), raw.get("from")):
        found = clean.user_id(candidate)
        if found is not None:
            return found
    return None


def _phone(raw: Mapping[str, Any], contact: Mapping[str, Any], country: int) -> str | None:
    """E.164 from ``wa_id`` (or a digits-only ``from``); never the business-scoped user id."""
    for candidate in (contact.get("wa_id"), raw.get("from")):
        if isinstance(candidate, str) and candidate.isdigit():
            phone = _e164(candidate, country)
            if phone is not None:
                return phone
    return None


@functools.lru_cache(maxsize=65536)
def _e164(wa_id: str, country: int) -> str | None:
    """Cached: parsing with phonenumbers costs more than the rest of the payload, and numbers repeat."""
    try:
        return normalize_phone(wa_id, country)
    except InvalidPhone:
        return None


def _content(raw: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(kind, text, reply id) for each message type the bot understands."""
    kind = raw.get("type")
    body = raw.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return "text", _str(body.get("body")), None
    if kind == "interactive":
        return _interactive(body)
    if kind == "button":  # a template's quick-reply button
        return "button", _str(body.get("text")), _str(body.get("payload")) or _str(body.get("text"))
    if kind in MEDIA_KINDS:
        return kind, _str(body.get("caption")), None
    if kind == "location":
        return "location", _str(body.get("name")) or _str(body.get("address")), None
    if kind == "reaction":
        return "reaction", _str(body.get("emoji")), None
    if kind == "contacts":
        return "contacts", None, None
    return "unsupported", None, None


def _interactive(body: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    for key, kind in (("button_reply", "button"), ("list_reply", "list")):
        reply = body.get(key)
        if body.get("type") == key and isinstance(reply, dict):
            return kind, _str(reply.get("title")), _str(reply.get("id"))
    return "unsupported", None, None


def _referral_code(text: str | None) -> str | None:
    """``JOIN <code>``, the prefilled text of a customer's ``wa.me`` referral link."""
    match = _JOIN.match(text or "")
    return match.group(1).upper() if match else None


def parse_preference(raw: Mapping[str, Any], country: int = 91) -> PreferenceUpdate | None:
    """One ``user_preferences`` entry: ``{"wa_id", "category": "marketing_messages", "value": "stop"|"resume"}``."""
    value, wa_id = raw.get("value"), raw.get("wa_id")
    if raw.get("category") != "marketing_messages" or value not in ("stop", "resume"):
        return None
    phone = _e164(wa_id, country) if isinstance(wa_id, str) and wa_id.isdigit() else None
    address = phone or clean.user_id(raw.get("user_id"))  # a username-only member is known by the user id
    return PreferenceUpdate(address, str(value), _timestamp(raw.get("timestamp"))) if address else None


def parse_system_preference(raw: Mapping[str, Any], country: int = 91) -> PreferenceUpdate | None:
    """The older form of the same: a ``system`` message of type ``user_preference_changed``."""
    system = raw.get("system")
    if raw.get("type") != "system" or not isinstance(system, dict):
        return None
    if system.get("type") != "user_preference_changed":
        return None
    entry = {"wa_id": raw.get("from"), "category": "marketing_messages", "value": system.get("marketing")}
    return parse_preference({**entry, "timestamp": raw.get("timestamp")}, country)


def parse_status(raw: Mapping[str, Any]) -> StatusUpdate | None:
    message_id, status = _message_id(raw.get("id")), _str(raw.get("status"))
    if message_id is None or status is None:
        return None
    errors = _list(raw.get("errors"))
    first = errors[0] if errors else {}
    detail = _str(_dict(first.get("error_data")).get("details"))
    parts = (_str(first.get("title")), detail or _str(first.get("message")))
    reason = " - ".join(part for part in parts if part)
    return StatusUpdate(
        wa_message_id=message_id,
        status=status[:16],
        at=_timestamp(raw.get("timestamp")),
        error_code=clean.error_code(first.get("code")),
        error=reason[:300] or None,
        tracker=_str(raw.get("biz_opaque_callback_data")),
    )


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _str(value: Any) -> str | None:
    """A non-empty string, cleaned of what no database stores (NUL, lone surrogates)."""
    return (clean.clean_text(value) or None) if isinstance(value, str) else None


def from_stored(
    message_id: str,
    phone: str,
    kind: str,
    text: str | None,
    raw: Mapping[str, Any],
    wa_user_id: str | None = None,
    profile_name: str | None = None,
) -> Incoming:
    """The ``Incoming`` a stored inbound row was parsed into (for handling after storage)."""
    _, _, reply_id = _content(raw)
    return Incoming(
        message_id=message_id,
        phone=phone,
        kind=kind,
        text=text,
        reply_id=reply_id,
        wa_user_id=wa_user_id,
        profile_name=profile_name,
        referral_code=_referral_code(text if kind == "text" else None),
    )
