"""Staff access tokens: short-lived, signed with ``SECRET_KEY``, naming the person and their sign-in family.

An access token is not stored: its signature and age make it valid, and every request also checks
that its family (``domain.staff_tokens``) has not been revoked and the person is still active, so a
revocation stops it at once. Scopes come from the person's role at the time of the request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.web import setting
from domain.api_keys import SCOPES

ACCESS_PREFIX = "la_"
_SALT = "loyalty-api-access-token"
# What each staff role may do through the API: support reads, managers run the program, admins all.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "manager": frozenset(SCOPES) - {"campaigns:write"},
    "support": frozenset({"members:read"}),
}


def access_seconds() -> int:
    return setting("API_ACCESS_TOKEN_MINUTES", 15) * 60


def refresh_lifetime() -> dt.timedelta:
    return dt.timedelta(days=setting("API_REFRESH_TOKEN_DAYS", 14))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=_SALT)


def issue_access(user_id: int, family: str) -> str:
    return ACCESS_PREFIX + _serializer().dumps({"u": user_id, "f": family})


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family: str


def read_access(token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    if not token.startswith(ACCESS_PREFIX):
        return None
    try:
        data = _serializer().loads(token[len(ACCESS_PREFIX) :], max_age=access_seconds())
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("f"), str):
        return None
    return AccessClaims(data["u"], data["f"])
