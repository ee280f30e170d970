"""The values that pass between the webhook, the conversation engine and the outbox.

They know nothing of pywa or HTTP: the engine turns an ``Incoming`` into
``Reply`` values; the transport stores, sends and retries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# WhatsApp's documented limits for interactive messages.
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_SECTION_TITLE = 24
MAX_TEXT = 4096


class NeedsSavepoint(Exception):
    """A handler run without a savepoint hit a domain error: its transaction must be rolled back and the
    message handled again with one (``guarded``), so the error's partial writes are undone."""


@dataclass(frozen=True)
class Incoming:
    """One inbound WhatsApp message, whatever its type, as the engine sees it."""

    message_id: str
    phone: str  # the chat's address: E.164 from wa_id, or the user id of a sender known by username only
    # text | button | list | image | sticker | location | audio | video | document | contacts | reaction | unsupported
    kind: str
    text: str | None = None  # the typed text, or the title of the chosen option
    reply_id: str | None = None  # id of the chosen button or list row
    wa_user_id: str | None = None  # business-scoped user id, when Meta sends one
    profile_name: str | None = None
    referral_code: str | None = None  # from a wa.me link's prefilled text or a click-to-chat ad, if any


@dataclass(frozen=True)
class Button:
    id: str
    title: str  # <= 20 characters


@dataclass(frozen=True)
class Row:
    id: str
    title: str  # <= 24 characters
    description: str | None = None  # <= 72 characters


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Reply:
    """A message to send: plain text, reply buttons, or a list."""

    kind: str  # text | buttons | list
    body: str
    buttons: tuple[Button, ...] = ()
    sections: tuple[Section, ...] = ()
    list_button: str | None = None  # the list's open button label
    header: str | None = None
    footer: str | None = None
    preview_url: bool = False
    # Another chat than the conversation's: the code that links a username-only chat goes to the phone's chat.
    to: str | None = None
    # What goes to that other chat instead when its 24-hour window is closed (Meta refuses free text then).
    outside_window: Template | None = None


@dataclass(frozen=True)
class Template:
    """An approved template message, for proactive messages outside the 24-hour window."""

    name: str
    language: str  # e.g. en, hi
    params: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def authentication_template(name: str, language: str, code: str) -> Template:
    """A one-time code in an authentication template: the code in the body and again in its copy-code button."""
    components = [
        {"type": "body", "parameters": [{"type": "text", "text": code}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": code}]},
    ]
    return Template(name=name, language=language, params=(code,), extra={"components": components})
