"""What a webhook may carry that the database cannot hold, made storable before anything is stored.

Meta's JSON is decoded by Python, which accepts things PostgreSQL refuses: a NUL character in
text, a lone UTF-16 surrogate (``"\\ud800"``), ``NaN``, values longer than their column. One
such value in a batch must not take the batch down, so every string is cleaned on the way in,
ids that cannot be stored are dropped (each with a log line), and the raw message kept beside
a stored row is cleaned and cut off at a sane depth.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_ID = 200  # inbound_messages / outbox / early_statuses.wa_message_id
MAX_ERROR_CODE = 32  # outbox.error_code
MAX_NAME = 200  # customers.name
MAX_USER_ID = 140  # a two-letter country, ".ENT." and up to 128 characters (Meta's BSUID format)
MAX_DEPTH = 32  # Meta's objects are a few levels deep; anything below this is not kept
REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")
_USER_ID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")


def clean_text(value: str) -> str:
    """No NUL, no lone surrogate: every other character is kept."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATE.sub(REPLACEMENT, value) if not value.isascii() else value


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value every database can store: cleaned strings, finite numbers, at most ``MAX_DEPTH`` deep."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item, depth + 1) for item in value]
    return value


def name(value: Any) -> str | None:
    """A profile name as a member's name: cleaned, trimmed, at most ``MAX_NAME`` characters."""
    if not isinstance(value, str):
        return None
    return " ".join(clean_text(value).split())[:MAX_NAME].strip() or None


def user_id(value: Any) -> str | None:
    """A business-scoped user id in Meta's documented form (``IN.1234567890123456``), else ``None``."""
    return value if isinstance(value, str) and _USER_ID.match(value) else None


def error_code(value: Any) -> str | None:
    """Graph's error code (a number, sometimes a string), as it fits the column."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return clean_text(str(value))[:MAX_ERROR_CODE] or None
