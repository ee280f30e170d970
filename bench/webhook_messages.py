"""The webhook bench's traffic: signed inbound text messages in Meta's format, every one distinct.

Message ``i`` of run ``run`` comes from one of ``phones`` numbers (in turn) and carries the id
``message_id(run, i)``, so the database can be asked afterwards what became of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

from bench.harness.load import Request

SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
TEXTS = ("hi", "points", "1", "menu", "balance", "help")
# Any GET answers once the app is imported; this one is the webhook's own subscription check.
READY_PATH = "/webhook?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1"


def message_id(run: str, i: int) -> str:
    return f"wamid.BENCH{run}{i:09d}"


def payload(run: str, i: int, phones: int) -> bytes:
    """The webhook body Meta would post for message ``i``: a text from the ``i % phones``-th number."""
    wa_id = f"9198{i % phones:08d}"
    message = {
        "from": wa_id,
        "id": message_id(run, i),
        "timestamp": "1781517600",
        "type": "text",
        "text": {"body": TEXTS[(i // phones) % len(TEXTS)]},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1022", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign(body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header for ``body`` under ``SECRET``."""
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def webhook_post(body: bytes) -> Request:
    return Request("POST", "/webhook", {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}, body)


def webhook_posts(run: str, start: int, count: int, phones: int) -> Iterator[Request]:
    """Signed POSTs of messages ``start`` to ``start + count - 1``."""
    for i in range(start, start + count):
        yield webhook_post(payload(run, i, phones))
