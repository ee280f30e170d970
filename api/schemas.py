"""Schemas more than one resource answers with, declared once: members, money, problems.

Resource-specific schemas live next to their routes. Each is the single source of both the
serialisation and the OpenAPI document.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma

from api.fields import Money, Phone, UtcDateTime
from domain.customers import Customer


class Strict(ma.Schema):
    """A request body: unknown fields are refused by name."""

    class Meta:
        unknown = ma.RAISE


class FieldError(ma.Schema):
    field = ma.fields.String(required=True, metadata={"example": "amount"})
    message = ma.fields.String(required=True, metadata={"example": "Must not be negative."})


class Problem(ma.Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type = ma.fields.String(required=True, metadata={"example": "urn:loyalty-bot:problem:validation_error"})
    title = ma.fields.String(required=True, metadata={"example": "The request is not valid"})
    status = ma.fields.Integer(required=True, metadata={"example": 400})
    detail = ma.fields.String(required=True, metadata={"example": "amount: Must not be negative."})
    code = ma.fields.String(required=True, metadata={"example": "validation_error"})
    errors = ma.fields.List(ma.fields.Nested(FieldError))
    voucher_status = ma.fields.String(metadata={"description": "With `voucher_not_valid`."})
    hold_status = ma.fields.String(metadata={"description": "With `hold_not_open`."})
    available = ma.fields.Integer(metadata={"description": "With `insufficient_points`: points available."})
    needed = ma.fields.Integer(metadata={"description": "With `insufficient_points`: points asked for."})
    attempts_left = ma.fields.Integer(metadata={"description": "With `wrong_code`."})
    required_scope = ma.fields.String(metadata={"description": "With `forbidden`."})
    retry_after = ma.fields.Integer(metadata={"description": "With `rate_limited`: seconds to wait."})


class MoneyOut(ma.Schema):
    amount = Money(required=True, metadata={"example": "125.00"})
    currency = ma.fields.String(required=True, metadata={"example": "INR"})


class PointsOut(ma.Schema):
    balance = ma.fields.Integer(required=True, metadata={"description": "All unexpired points.", "example": 750})
    available = ma.fields.Integer(
        required=True, metadata={"description": "What may be spent now: balance less held.", "example": 250}
    )
    held = ma.fields.Integer(
        required=True, metadata={"description": "Reserved by open holds (payments at a till).", "example": 500}
    )
    owed = ma.fields.Integer(
        required=True, metadata={"description": "Taken back by returns beyond the balance.", "example": 0}
    )


class MemberOut(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 42})
    phone = Phone(required=True, metadata={"example": "+919812345678"})
    name = ma.fields.String(allow_none=True, required=True, metadata={"example": "Asha Verma"})
    tier = ma.fields.String(required=True, metadata={"example": "gold"})
    points = ma.fields.Nested(PointsOut, required=True)
    referral_code = ma.fields.String(required=True, metadata={"example": "96YKDW"})
    language = ma.fields.String(required=True, metadata={"example": "en"})
    marketing_opt_in = ma.fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)


def member(customer: Customer) -> dict[str, Any]:
    """A customer as the API shows them."""
    return {
        "id": customer.id,
        "phone": customer.phone,
        "name": customer.name,
        "tier": customer.tier,
        "points": {
            "balance": customer.points_balance,
            "available": customer.points_available,
            "held": customer.points_held,
            "owed": customer.points_owed,
        },
        "referral_code": customer.referral_code,
        "language": customer.language,
        "marketing_opt_in": customer.marketing_opt_in,
        "created_at": customer.created_at,
    }


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}
