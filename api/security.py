"""Who is calling and what they may do: ``Authorization: Bearer`` with an API key or a staff token.

Scopes are declared on each route with ``@requires("members:read")``, next to the method, and appear
in the OpenAPI document. A route without ``@requires`` is public (only the docs are). The rate limit
is counted per caller right after authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_smorest.utils import deepupdate
from sqlalchemy import bindparam, select

from api import limits
from api.errors import ApiProblem
from api.tokens import ROLE_SCOPES, read_access
from domain import api_keys, staff_tokens
from domain.api_keys import ApiKey, hash_secret
from runtime import services

F = TypeVar("F", bound=Callable[..., Any])
SECURITY_SCHEME = "bearerAuth"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    kind: str  # "key" or "staff"
    name: str  # the key's name, or the person's email
    actor: str  # how the audit log names them
    holder: str  # whose Idempotency-Keys and rate limit these are
    scopes: frozenset[str]
    rate: str | None  # the key's own rate limit, if it has one


def current() -> Principal:
    principal: Principal = g.principal
    return principal


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem("unauthorized", "send Authorization: Bearer <API key or access token>")
    return token.strip()


def authenticate() -> Principal:
    token = _bearer()
    principal = _from_key(token) if token.startswith(api_keys.KEY_PREFIX) else _from_access_token(token)
    if principal is None:
        raise ApiProblem("unauthorized", "the API key or access token is not valid (unknown, revoked or expired)")
    return principal


# Built once: the statement every request with an API key runs.
_LIVE_KEY = select(ApiKey.id, ApiKey.name, ApiKey.scopes, ApiKey.rate_limit, ApiKey.last_used_at).where(
    ApiKey.secret_hash == bindparam("secret_hash"), ApiKey.revoked_at.is_(None)
)


def _from_key(secret: str) -> Principal | None:
    db, moment = services.database(), services.now()
    with db.single_statement() as conn:
        row = conn.execute(_LIVE_KEY, {"secret_hash": hash_secret(secret)}).first()
    if row is None:
        return None
    key_id, name, scopes, rate, last_used = row
    if last_used is None or last_used < moment - api_keys.TOUCH_EVERY:
        with db.unit_of_work() as session:
            api_keys.touch(session, key_id, moment)
    return Principal("key", name, api_keys.actor_for(name), f"key:{key_id}", frozenset(scopes.split()), rate)


def _from_access_token(token: str) -> Principal | None:
    claims = read_access(token)
    if claims is None:
        return None
    with services.database().unit_of_work() as session:
        user = staff_tokens.family_alive(session, claims.user_id, claims.family)
        if user is None:
            return None
        email, role = user.email, user.role
    return Principal("staff", email, email, f"staff:{claims.user_id}", ROLE_SCOPES.get(role, frozenset()), None)


def requires(*scopes: str) -> Callable[[F], F]:
    """Authenticate, check ``scopes``, count the rate limit; documented on the operation."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            missing = [scope for scope in scopes if scope not in principal.scopes]
            if missing:
                raise ApiProblem(
                    "forbidden",
                    f"this {'key' if principal.kind == 'key' else 'account'} lacks the scope {missing[0]}",
                    required_scope=missing[0],
                )
            g.principal = principal
            limits.hit(principal.rate or limits.default_rate(), "api", principal.holder)
            return view(*args, **kwargs)

        wrapper.required_scopes = scopes  # type: ignore[attr-defined]
        _document(wrapper, scopes)
        return wrapper  # type: ignore[return-value]

    return decorate


def _document(wrapper: Any, scopes: tuple[str, ...]) -> None:
    """The operation's security requirement (OpenAPI 3.1 lists roles for bearer schemes) and answers."""
    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = {
        "security": [{SECURITY_SCHEME: list(scopes)}],
        "x-scopes": list(scopes),
        "responses": {
            "401": "UNAUTHORIZED",
            "403": "FORBIDDEN",
            "429": "TOO_MANY_REQUESTS",
        },
    }
    apidoc["manual_doc"] = deepupdate(deepcopy(apidoc.get("manual_doc", {})), manual)
    wrapper._apidoc = apidoc
