"""``/api/v1/holds``: points as payment at a till, confirmed by the member on WhatsApp.

1. ``POST /holds`` reserves points (no more than are available) and sends the member, at once, a
   WhatsApp message with Confirm / Decline and a 6-digit code.
2. The member taps Confirm (the hold becomes ``held``), or reads the code out and the cashier sends
   it to ``/verify``; three wrong codes release the hold. Decline makes it ``declined``.
3. ``/capture`` spends up to the held points (the rest goes back); ``/release`` gives them all back,
   as does the expiry after ``HOLD_MINUTES`` (default 15).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from flask import Response, current_app
from sqlalchemy.orm import Session

from api.errors import ApiProblem, problem_response
from api.fields import Id, Int, Phone, Text, UtcDateTime
from api.idempotency import writes
from api.parsing import Blueprint
from api.schemas import MoneyOut, Strict, money
from api.security import current, requires
from api.web import cc, now, rules, setting, unit_of_work
from bot import api as bot_api
from domain import holds
from domain.customers import Customer, find_by_phone
from domain.holds import Hold, Verification

blp = Blueprint("holds", __name__, url_prefix="/api/v1/holds", description="Points as payment at a till.")
HOLD_ID = "<int(min=1, max=2147483647):hold_id>"
DEFAULT_MINUTES = 15


class HoldIn(Strict):
    member_id = Id()
    phone = Phone(metadata={"example": "09812345678"})
    points = Int(1, holds.MAX_POINTS, required=True, metadata={"example": 500})
    store = Text(64, allow_none=True, metadata={"example": "Pune-FC-Road"})
    order_id = Text(64, allow_none=True, metadata={"example": "POS-2231-0087"})

    @ma.validates_schema
    def _one_member(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("phone" in data) == ("member_id" in data):
            raise ma.ValidationError("Give exactly one of phone and member_id.", field_name="member_id")


class VerifyIn(Strict):
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^\s*\d{6}\s*$", error="Six digits."),
        metadata={"example": "428193"},
    )


class CaptureIn(Strict):
    points = Int(1, holds.MAX_POINTS, metadata={"description": "At most the held points; default all of them."})


class ReleaseIn(Strict):
    reason = Text(200, allow_none=True, metadata={"example": "customer paid cash"})


class HoldOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "pending, held, captured, released or declined", "example": "pending"}
    )
    points = ma.fields.Integer(required=True, metadata={"example": 500})
    value = ma.fields.Nested(MoneyOut, required=True, metadata={"description": "points x the point value"})
    captured_points = ma.fields.Integer(allow_none=True, required=True)
    member_id = ma.fields.Integer(required=True)
    store = ma.fields.String(allow_none=True, required=True)
    order_id = ma.fields.String(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    verified_at = UtcDateTime(allow_none=True, required=True)
    verified_via = ma.fields.String(allow_none=True, required=True, metadata={"description": "code or whatsapp"})
    closed_at = UtcDateTime(allow_none=True, required=True)
    reason = ma.fields.String(allow_none=True, required=True, metadata={"description": "Why it closed."})
    attempts_left = ma.fields.Integer(required=True, metadata={"description": "Wrong codes still allowed."})


def hold_view(session: Session, hold: Hold) -> dict[str, Any]:
    program = rules(session)
    return {
        "id": hold.id,
        "status": hold.status,
        "points": hold.points,
        "value": money(holds.value_of(hold.points, program.point_value), program.currency),
        "captured_points": hold.captured_points,
        "member_id": hold.customer_id,
        "store": hold.store,
        "order_id": hold.order_id,
        "created_at": hold.created_at,
        "expires_at": hold.expires_at,
        "verified_at": hold.verified_at,
        "verified_via": hold.verified_via,
        "closed_at": hold.closed_at,
        "reason": hold.status_reason,
        "attempts_left": hold.attempts_left,
    }


def _member_id(session: Session, data: dict[str, Any]) -> int:
    if "member_id" in data:
        if session.get(Customer, data["member_id"]) is None:
            raise ApiProblem("not_found", f"no member {data['member_id']}")
        return int(data["member_id"])
    found = find_by_phone(session, data["phone"], cc())
    if found is None:
        raise ApiProblem("not_found", "no member with this phone")
    return found.id


@blp.route("", methods=["POST"])
@requires("holds:write")
@blp.arguments(HoldIn, example={"phone": "09812345678", "points": 500, "store": "Pune-FC-Road"})
@writes
@blp.response(201, HoldOut)
def open_hold(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Reserve points as payment; the member is asked on WhatsApp at once."""
    minutes = setting("HOLD_MINUTES", DEFAULT_MINUTES)
    moment = now()
    with unit_of_work() as session:
        opened = holds.open_hold(
            session,
            _member_id(session, data),
            data["points"],
            minutes=minutes,
            now=moment,
            actor=current().actor,
            store=data.get("store"),
            order_id=data.get("order_id"),
        )
        view = hold_view(session, opened.hold)
        payment = bot_api.PaymentCode(
            hold_id=opened.hold.id,
            customer_id=opened.hold.customer_id,
            points=opened.hold.points,
            amount=view["value"]["amount"],
            currency=view["value"]["currency"],
            store=opened.hold.store,
            code=opened.code,
            minutes=minutes,
        )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        bot_api.send_payment_code(session, app, payment, moment, app.config)
        return view, 201


@blp.route(f"/{HOLD_ID}", methods=["GET"])
@requires("holds:write")
@blp.response(200, HoldOut)
def get_hold(hold_id: int) -> dict[str, Any]:
    """The hold and its status."""
    with unit_of_work() as session:
        return hold_view(session, holds.get(session, hold_id))


@blp.route(f"/{HOLD_ID}/verify", methods=["POST"])
@requires("holds:write")
@blp.arguments(VerifyIn, example={"code": "428193"})
@writes
@blp.response(200, HoldOut)
def verify(data: dict[str, Any], hold_id: int) -> dict[str, Any] | Response:
    """The code the member read out: the hold becomes `held`. A wrong code counts; three release the hold."""
    moment = now()
    with unit_of_work() as session:
        hold, outcome = holds.verify_code(session, hold_id, data["code"], moment)
        if outcome is Verification.VERIFIED:
            return hold_view(session, hold)
        if outcome is Verification.LOCKED:
            _tell_member(session, hold, moment)
        left, status = hold.attempts_left, hold.status
    detail = "wrong code" + (f"; {left} attempt(s) left" if left else "; the hold is released, open a new one")
    # Returned, not raised: the attempt is counted (committed) with this answer.
    return problem_response(ApiProblem("wrong_code", detail, attempts_left=left, hold_status=status))


@blp.route(f"/{HOLD_ID}/capture", methods=["POST"])
@requires("holds:write")
@blp.arguments(CaptureIn, required=False, example={"points": 450})
@writes
@blp.response(200, HoldOut)
def capture(data: dict[str, Any], hold_id: int) -> dict[str, Any]:
    """Spend the held points (or fewer): they leave the ledger; the rest is released."""
    moment = now()
    with unit_of_work() as session:
        hold = holds.capture(session, hold_id, data.get("points"), moment)
        _tell_member(session, hold, moment)
        return hold_view(session, hold)


@blp.route(f"/{HOLD_ID}/release", methods=["POST"])
@requires("holds:write")
@blp.arguments(ReleaseIn, required=False)
@writes
@blp.response(200, HoldOut)
def release(data: dict[str, Any], hold_id: int) -> dict[str, Any]:
    """Give the points back: status `released`."""
    moment = now()
    with unit_of_work() as session:
        reason = data.get("reason") or "released by the till"
        hold = holds.release(session, hold_id, moment, reason)
        _tell_member(session, hold, moment)
        return hold_view(session, hold)


def _tell_member(session: Session, hold: Hold, moment: dt.datetime) -> None:
    """The member's notice (points spent, or back) goes out when this request commits, not at the next dispatch."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    bot_api.send_notifications_now(session, hold.customer_id, moment, app)
