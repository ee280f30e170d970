"""Webhook payloads in Meta's documented format, and their signatures, for tests and the bench.

Two generations: ``user_id=None`` gives the classic payload (contacts carry only
``wa_id``); a ``user_id`` adds the business-scoped user id Meta now sends too.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
_ids = itertools.count(1)


def new_message_id() -> str:
    return f"wamid.HBgMOTE5ODEyMzQ1Njc4FQIAEhgU{next(_ids):012d}"


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header Meta would send."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def contact(wa_id: str, name: str = "Asha", user_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"profile": {"name": name}, "wa_id": wa_id}
    if user_id is not None:
        found["user_id"] = user_id
    return found


def message(
    wa_id: str,
    kind: str,
    content: dict[str, Any] | None = None,
    *,
    message_id: str | None = None,
    user_id: str | None = None,
    name: str = "Asha",
    timestamp: int = 1781517600,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole webhook body carrying one inbound message of ``kind``."""
    msg: dict[str, Any] = {
        "from": wa_id,
        "id": message_id or new_message_id(),
        "timestamp": str(timestamp),
        "type": kind,
    }
    if user_id is not None:
        msg["from_user_id"] = user_id
    if content is not None:
        msg[kind] = content
    msg.update(extra or {})
    return envelope({"contacts": [contact(wa_id, name, user_id)], "messages": [msg]})


def text(wa_id: str, body: str, **kw: Any) -> dict[str, Any]:
    return message(wa_id, "text", {"body": body}, **kw)


def button_reply(wa_id: str, button_id: str, title: str, **kw: Any) -> dict[str, Any]:
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return message(wa_id, "interactive", content, **kw)


def list_reply(wa_id: str, row_id: str, title: str, description: str = "", **kw: Any) -> dict[str, Any]:
    reply = {"id": row_id, "title": title, **({"description": description} if description else {})}
    return message(wa_id, "interactive", {"type": "list_reply", "list_reply": reply}, **kw)


def template_button(wa_id: str, payload: str, label: str, **kw: Any) -> dict[str, Any]:
    return message(wa_id, "button", {"payload": payload, "text": label}, **kw)


def image(wa_id: str, caption: str | None = None, **kw: Any) -> dict[str, Any]:
    content = {"mime_type": "image/jpeg", "sha256": "c2hhMjU2", "id": "1479537139650973"}
    if caption:
        content["caption"] = caption
    return message(wa_id, "image", content, **kw)


def status(
    wa_message_id: str,
    state: str,
    wa_id: str,
    *,
    timestamp: int = 1781517700,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A delivery report (``sent``, ``delivered``, ``read`` or ``failed``) for one outgoing message."""
    report: dict[str, Any] = {"id": wa_message_id, "status": state, "timestamp": str(timestamp), "recipient_id": wa_id}
    if state in ("sent", "delivered"):
        report["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        report["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        report["errors"] = errors
    return envelope({"statuses": [report]})


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def username_only(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as a sender with a WhatsApp username and no phone number sends it: each contact keeps only
    its ``user_id`` (and profile), each message has ``from_user_id`` and no ``from``."""
    value = body["entry"][0]["changes"][0]["value"]
    for found in value.get("contacts", []):
        found.pop("wa_id", None)
        assert "user_id" in found, "build the body with user_id=..."
    for msg in value.get("messages", []):
        msg.pop("from", None)
    return body
