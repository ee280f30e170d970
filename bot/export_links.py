"""Short-lived signed links to a member's export ("my data" in chat), served by this app.

The link carries the member's id and the request's reference, signed with ``SECRET_KEY`` and
dated; it works for ``PrivacySettings.export_link_hours`` and never for an erased member. No
row is needed to check it, and a guessed or altered link is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer

from runtime.config import DEV_SECRET

SALT = "privacy-export"


def _serializer(config: Mapping[str, Any]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(config.get("SECRET_KEY") or DEV_SECRET), salt=SALT)


def make_token(config: Mapping[str, Any], customer_id: int, reference: str) -> str:
    return _serializer(config).dumps({"c": customer_id, "r": reference})


def read_token(config: Mapping[str, Any], token: str, max_age_seconds: int) -> tuple[int, str] | None:
    """``(customer id, reference)``, or None for a link that is altered or too old (``SignatureExpired``
    is a ``BadSignature``)."""
    try:
        data = _serializer(config).loads(token, max_age=max_age_seconds)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("r"), str):
        return None
    return data["c"], data["r"]


def links(base_url: str, token: str) -> tuple[str, str]:
    """The JSON and the CSV address of one export."""
    url = f"{base_url}/privacy/export/{token}"
    return url, f"{url}?{urlencode({'format': 'csv'})}"
