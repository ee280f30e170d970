"""Meta's webhook JSON in, plain values out: ``Incoming`` messages and ``StatusUpdate`` records.

We read the raw payload ourselves instead of pywa's typed updates because pywa 4.5
only looks at ``entry[0].changes[0].value.messages[0]`` and drops any update whose
``contacts[]`` lacks the newer ``user_id`` (``User.from_contact`` raises ``KeyError``).
Meta still sends both generations, and may batch several messages in one POST.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Incoming
from domain.errors import InvalidPhone
from domain.phones import normalize_phone

MEDIA_KINDS = ("image", "sticker", "audio", "video", "document")
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

    phone: str
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
    unknown_senders: int = 0  # messages whose sender had no phone number we could use
    preferences: tuple[PreferenceUpdate, ...] = ()
    account_events: tuple[AccountEvent, ...] = ()


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
    unknown = 0
    for value in values:
        for raw in _list(value.get("messages")):
            changed = parse_system_preference(raw, default_country_code)
            if changed is not None:
                preferences.append(changed)
                continue
            parsed = parse_message(raw, _list(value.get("contacts")), default_country_code)
            if parsed is None:
                unknown += 1
            else:
                messages.append(parsed)
        statuses.extend(s for s in map(parse_status, _list(value.get("statuses"))) if s is not None)
    events = [
        event for name in ACCOUNT_FIELDS for value in _values(body, name) if (event := parse_account(name, value))
    ]
    return Update(tuple(messages), tuple(statuses), unknown, tuple(preferences), tuple(events))


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
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise PayloadError('each entry must be an object with a "changes" list')
        for change in entry.get("changes", []):
            if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
                raise PayloadError('each change must be an object with a "value" object')
            if change.get("field", "messages") == field:
                yield change.get("value", {})


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_message(raw: Mapping[str, Any], contacts: list[dict[str, Any]], country: int = 91) -> ParsedMessage | None:
    """One message object; ``None`` when it carries no usable phone number or id."""
    contact = _contact_for(raw, contacts)
    phone = _phone(raw, contact, country)
    message_id = raw.get("id")
    if phone is None or not isinstance(message_id, str) or not message_id:
        return None
    kind, text, reply_id = _content(raw)
    incoming = Incoming(
        message_id=message_id,
        phone=phone,
        kind=kind,
        text=text,
        reply_id=reply_id,
        wa_user_id=_str(contact.get("user_id")) or _str(raw.get("from_user_id")),
        profile_name=_str((contact.get("profile") or {}).get("name")),
        referral_code=_referral_code(text if kind == "text" else None),
    )
    return ParsedMessage(incoming, dict(raw))


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
    return PreferenceUpdate(phone, str(value), _timestamp(raw.get("timestamp"))) if phone else None


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
    message_id, status = raw.get("id"), raw.get("status")
    if not isinstance(message_id, str) or not isinstance(status, str):
        return None
    errors = _list(raw.get("errors"))
    first = errors[0] if errors else {}
    detail = (first.get("error_data") or {}).get("details") if isinstance(first.get("error_data"), dict) else None
    reason = " - ".join(str(part) for part in (first.get("title"), detail or first.get("message")) if part)
    return StatusUpdate(
        wa_message_id=message_id,
        status=status,
        at=_timestamp(raw.get("timestamp")),
        error_code=str(first["code"]) if "code" in first else None,
        error=reason[:300] or None,
        tracker=_str(raw.get("biz_opaque_callback_data")),
    )


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
