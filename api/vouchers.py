"""Rewards and vouchers: the live catalog, redeeming points for a voucher, using a voucher at the till.

A voucher redeemed a second time is refused, ``voucher_not_valid`` with the ``voucher_status``
(``used``); a till's retry after a timeout gets its first answer again through ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, request
from sqlalchemy.orm import Session

from api.errors import ApiProblem
from api.fields import Id, QueryInt, Text, UtcDateTime
from api.idempotency import HEADER, writes
from api.members import MEMBER_ID, load_member
from api.parsing import Blueprint
from api.schemas import Strict
from api.security import current, requires
from api.web import ListArgs, cursor_id, now, page_of, page_schema, reading, rules, unit_of_work
from bot import api as bot_api
from domain import catalog, rewards, vouchers
from domain.rewards import Redemption, Reward

blp = Blueprint("vouchers", __name__, url_prefix="/api/v1", description="Rewards, redemptions and vouchers.")
CODE = "<string(maxlength=40):code>"


class RewardsArgs(ListArgs):
    member_id = QueryInt(metadata={"description": "Say for each reward whether this member can afford it."})


class RewardOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, metadata={"example": "Free coffee mug"})
    description = ma.fields.String(allow_none=True)
    points_cost = ma.fields.Integer(required=True, metadata={"example": 250})
    stock = ma.fields.Integer(allow_none=True, metadata={"description": "Units left; absent when unlimited."})
    per_member_limit = ma.fields.Integer(allow_none=True)
    ends_at = UtcDateTime(allow_none=True)
    affordable = ma.fields.Boolean(metadata={"description": "With `member_id`: enough available points."})


RewardPage = page_schema(RewardOut, "RewardPage")


class RedemptionIn(Strict):
    reward_id = Id(required=True, metadata={"example": 3})


class RewardRef(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class VoucherOut(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "GPF6-V3UT-KXTV"})
    voucher_code = ma.fields.String(required=True, metadata={"description": "The same as `code`."})
    status = ma.fields.String(required=True, metadata={"description": "issued, used, expired or cancelled."})
    reward = ma.fields.Nested(RewardRef, required=True)
    member_id = ma.fields.Integer(required=True)
    points_cost = ma.fields.Integer(required=True)
    issued_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    used_at = UtcDateTime(allow_none=True, required=True)
    used_store = ma.fields.String(allow_none=True, required=True)
    used_order_id = ma.fields.String(allow_none=True, required=True)


class RedeemIn(Strict):
    store = Text(64, allow_none=True, metadata={"example": "Pune-FC-Road"})
    order_id = Text(64, allow_none=True, metadata={"example": "POS-2231-0087"})
    member_id = Id(metadata={"description": "When given, the voucher must be this member's."})


class RollbackIn(Strict):
    reason = Text(200, allow_none=True, metadata={"example": "bill voided"})


class LookupArgs(ma.Schema):
    member_id = QueryInt(metadata={"description": "When given, the voucher must be this member's."})

    class Meta:
        unknown = ma.EXCLUDE


def voucher(redemption: Redemption) -> dict[str, Any]:
    return {
        "code": redemption.voucher_code,
        "voucher_code": redemption.voucher_code,
        "status": vouchers.status_of(redemption, now()),
        "reward": {"id": redemption.reward_id, "name": redemption.reward.name},
        "member_id": redemption.customer_id,
        "points_cost": redemption.points_cost,
        "issued_at": redemption.issued_at,
        "expires_at": redemption.expires_at,
        "used_at": redemption.used_at,
        "used_store": redemption.used_store,
        "used_order_id": redemption.used_order_id,
    }


def _reward(reward: Reward, available: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": reward.id,
        "name": reward.name,
        "description": reward.description,
        "points_cost": reward.points_cost,
        "per_member_limit": reward.per_customer_limit,
        "ends_at": reward.ends_at,
    }
    if reward.stock is not None:
        out["stock"] = reward.stock
    if available is not None:
        out["affordable"] = available >= reward.points_cost and reward.in_stock()
    return out


def _voucher(session: Session, code: str, member_id: int | None) -> Redemption:
    found = vouchers.get_by_code(session, code)
    if member_id is not None and found.customer_id != member_id:
        raise ApiProblem("not_found", f"member {member_id} has no voucher with this code")
    return found


@blp.route("/rewards", methods=["GET"])
@requires("members:read")
@blp.arguments(RewardsArgs, location="query", as_kwargs=True)
@blp.response(200, RewardPage)
def list_rewards(limit: int, starting_after: str | None = None, member_id: int | None = None) -> Any:
    """The live catalog, cheapest first."""
    with reading() as session:
        available = load_member(member_id, session).points_available if member_id is not None else None
        rows = catalog.live_page(session, now(), limit + 1, cursor_id(starting_after))
        page = page_of(rows, limit, lambda r: r.id)
        return {
            "data": [_reward(r, available) for r in page.data],
            "has_more": page.has_more,
            "next_cursor": page.next_cursor,
        }


@blp.route(f"/members/{MEMBER_ID}/redemptions", methods=["POST"])
@requires("vouchers:write")
@blp.arguments(RedemptionIn, example={"reward_id": 3})
@writes
@blp.response(201, VoucherOut)
def redeem(data: dict[str, Any], member_id: int) -> tuple[dict[str, Any], int]:
    """Spend the member's points on a reward: a voucher, also sent to them on WhatsApp."""
    key = request.headers.get(HEADER)
    with unit_of_work() as session:
        load_member(member_id, session)
        ledger_key = f"api:redeem:{current().holder}:{key}"[:160] if key else None
        redemption = rewards.redeem(session, member_id, data["reward_id"], rules(session), now(), key=ledger_key)
        bot_api.send_notifications_now(session, member_id, now(), current_app._get_current_object())  # type: ignore[attr-defined]
        return voucher(redemption), 201


@blp.route(f"/vouchers/{CODE}", methods=["GET"])
@requires("vouchers:write")
@blp.arguments(LookupArgs, location="query", as_kwargs=True)
@blp.response(200, VoucherOut)
def get_voucher(code: str, member_id: int | None = None) -> dict[str, Any]:
    """Look a voucher up by its code (case, spaces and dashes do not matter)."""
    with reading() as session:
        return voucher(_voucher(session, code, member_id))


@blp.route(f"/vouchers/{CODE}/redeem", methods=["POST"])
@requires("vouchers:write")
@blp.arguments(RedeemIn, required=False, example={"store": "Pune-FC-Road", "order_id": "POS-2231-0087"})
@writes
@blp.response(200, VoucherOut)
def redeem_voucher(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Use the voucher at the till: status `used`, with where and when."""
    with unit_of_work() as session:
        found = _voucher(session, code, data.get("member_id"))
        used = vouchers.use(
            session, found.id, actor=current().actor, now=now(), store=data.get("store"), order_id=data.get("order_id")
        )
        return voucher(used.voucher)


@blp.route(f"/vouchers/{CODE}/rollback", methods=["POST"])
@requires("vouchers:write")
@blp.arguments(RollbackIn, required=False, example={"reason": "bill voided"})
@writes
@blp.response(200, VoucherOut)
def rollback_voucher(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Undo a redeem (the till voided the bill): status `issued` again."""
    with unit_of_work() as session:
        found = _voucher(session, code, None)
        return voucher(
            vouchers.rollback(session, found.id, actor=current().actor, now=now(), reason=data.get("reason"))
        )
