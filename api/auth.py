"""``/api/v1/auth``: staff sign in with email and password for a short-lived access token.

The console's lock-out applies (``domain.users``: five wrong passwords in a row lock the account for
15 minutes, whichever door they came through), and wrong passwords per client address are limited
too. Every failure answers the same ``unauthorized``, so the answer never tells whether an email is
an account. The refresh token rotates on each use; a used one presented again revokes its family.
"""

from __future__ import annotations

import functools
from typing import Any

import marshmallow as ma
from flask import request

from api import limits
from api.errors import ApiProblem
from api.fields import Text
from api.parsing import Blueprint
from api.schemas import Strict
from api.tokens import access_seconds, issue_access, refresh_lifetime
from api.web import now, unit_of_work
from domain import audit, staff_tokens
from domain.users import check_password, find_user, hash_password, is_locked, record_failure, record_success

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Staff sign-in for the API.")
FAILED = "wrong email or password, or the account is locked or inactive"


@functools.cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so that answering takes as long as for a real account."""
    return hash_password("not-a-real-password")


class TokenIn(Strict):
    email = Text(254, required=True, metadata={"example": "manager@shop.example"})
    password = ma.fields.String(required=True, validate=ma.validate.Length(1, 200), metadata={"example": "..."})


class RefreshIn(Strict):
    refresh_token = Text(200, required=True)


class TokensOut(ma.Schema):
    access_token = ma.fields.String(required=True, metadata={"description": "Send as `Authorization: Bearer`."})
    refresh_token = ma.fields.String(required=True, metadata={"description": "For `/auth/refresh`, once."})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds the access token lasts."})
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})


def _tokens(user_id: int, issued: staff_tokens.Issued) -> dict[str, Any]:
    return {
        "access_token": issue_access(user_id, issued.family),
        "refresh_token": issued.token,
        "expires_in": access_seconds(),
        "token_type": "Bearer",
    }


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenIn, example={"email": "manager@shop.example", "password": "correct horse battery"})
@blp.response(200, TokensOut)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def token(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in: an access token (minutes) and a refresh token (days)."""
    address = request.remote_addr or "unknown"
    if limits.refused_sign_in(address):
        raise ApiProblem("rate_limited", "too many failed sign-ins from this address; wait and retry")
    moment = now()
    with unit_of_work() as session:
        user = find_user(session, data["email"])
        if user is None:
            check_password(_dummy_hash(), data["password"])
            body = None
        elif is_locked(user, moment) or not check_password(user.password_hash, data["password"]):
            if not is_locked(user, moment):
                record_failure(user, moment)
                if is_locked(user, moment):
                    audit.record(
                        session,
                        actor=user.email,
                        action="user.locked",
                        entity_type="staff_user",
                        entity_id=user.id,
                        now=moment,
                    )
            body = None
        elif not user.active:
            body = None
        else:
            record_success(user, moment)
            body = _tokens(user.id, staff_tokens.start_family(session, user, moment, refresh_lifetime()))
    if body is None:
        limits.failed_sign_in(address)
        raise ApiProblem("unauthorized", FAILED)
    return body


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshIn, example={"refresh_token": "lr_3q2f...the refresh token you were given"})
@blp.response(200, TokensOut)
@blp.alt_response(401, response="UNAUTHORIZED")
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """A new access token and the next refresh token; the one sent is used up."""
    with unit_of_work() as session:
        issued = staff_tokens.rotate(session, data["refresh_token"], now(), refresh_lifetime())
        body = _tokens(issued.user.id, issued) if issued is not None else None
    if body is None:
        raise ApiProblem("unauthorized", "the refresh token is not valid (unknown, used, revoked or expired)")
    return body


@blp.route("/revoke", methods=["POST"])
@blp.arguments(RefreshIn, example={"refresh_token": "lr_3q2f...the refresh token you were given"})
@blp.response(204)
def revoke(data: dict[str, Any]) -> tuple[str, int]:
    """Sign out: the refresh token's family and its access tokens stop working now."""
    with unit_of_work() as session:
        staff_tokens.revoke_token(session, data["refresh_token"], now())
    return "", 204
