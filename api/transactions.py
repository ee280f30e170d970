"""``/api/v1/transactions`` and ``/api/v1/returns``: sales and returns from tills and web shops.

An ``order_id`` is the ERP's order key: a sale posted here and later synced from the ERP earns once,
and one posted twice earns once (the second answer is 200 with the same figures). A ``return_id``
likewise takes points back once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import marshmallow as ma
from sqlalchemy.orm import Session

from api.errors import ApiProblem, invalid
from api.fields import Id, Money, Phone, Text, UtcDateTime
from api.idempotency import writes
from api.parsing import Blueprint
from api.schemas import MemberOut, Strict, member
from api.security import requires
from api.web import now, rules, unit_of_work
from domain import direct_sales
from domain.customers import Customer
from domain.errors import NotFound
from domain.orders import LineData, OrderData, ReturnData
from domain.rules import ProgramRules
from domain.sales import Order

blp = Blueprint("transactions", __name__, url_prefix="/api/v1", description="Sales and returns.")
FUTURE_SLACK = dt.timedelta(minutes=10)


class LineIn(Strict):
    sku = Text(64, allow_none=True, metadata={"example": "SKU-1001"})
    category = Text(120, allow_none=True, metadata={"example": "apparel"})
    amount = Money(required=True, metadata={"example": "999.00"})
    qty = Money(allow_none=True, metadata={"example": "1"})

    @ma.validates("qty")
    def _positive(self, value: Decimal | None, **kwargs: Any) -> None:
        if value is not None and value <= 0:
            raise ma.ValidationError("Must be more than 0.")


class SaleIn(Strict):
    order_id = Text(64, required=True, metadata={"example": "WEB-100234"})
    phone = Phone(metadata={"description": "The member's phone; or give `member_id`.", "example": "09812345678"})
    member_id = Id()
    amount = Money(required=True, metadata={"description": "Net amount of the bill.", "example": "1499.00"})
    currency = ma.fields.String(validate=ma.validate.Length(3, 3), metadata={"example": "INR"})
    store = Text(64, allow_none=True, metadata={"example": "Pune-FC-Road"})
    occurred_at = UtcDateTime(metadata={"description": "When the sale happened (default: now)."})
    lines = ma.fields.List(ma.fields.Nested(LineIn), validate=ma.validate.Length(max=500))

    @ma.validates_schema
    def _one_member(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("phone" in data) == ("member_id" in data):
            raise ma.ValidationError("Give exactly one of phone and member_id.", field_name="member_id")


class SaleOut(ma.Schema):
    order_id = ma.fields.String(required=True)
    points_earned = ma.fields.Integer(required=True, metadata={"example": 14})
    amount = Money(required=True)
    currency = ma.fields.String(required=True)
    store = ma.fields.String(allow_none=True, required=True)
    occurred_at = UtcDateTime(required=True)
    member = ma.fields.Nested(MemberOut, required=True)


class ReturnIn(Strict):
    return_id = Text(64, required=True, metadata={"example": "RET-5521"})
    order_id = Text(64, required=True, metadata={"example": "WEB-100234"})
    amount = Money(required=True, metadata={"example": "499.00"})
    occurred_at = UtcDateTime()

    @ma.validates("amount")
    def _positive(self, value: Decimal, **kwargs: Any) -> None:
        if value <= 0:
            raise ma.ValidationError("Must be more than 0.")


class ReturnOut(ma.Schema):
    return_id = ma.fields.String(required=True)
    order_id = ma.fields.String(required=True)
    amount = Money(required=True)
    points_returned = ma.fields.Integer(required=True, metadata={"description": "Points this return took back."})
    member = ma.fields.Nested(MemberOut, required=True)


def _locked_member(session: Session, data: dict[str, Any]) -> tuple[Customer, ProgramRules]:
    """The sale's member, its row locked, and the program's rules: one statement for the three."""
    if "member_id" in data:
        found = direct_sales.lock_member(session, customer_id=int(data["member_id"]))
        if found is None:
            raise NotFound(f"customer {data['member_id']} does not exist", field="member_id")
        return found
    found = direct_sales.lock_member(session, phone=data["phone"])  # the Phone field normalised it
    if found is None:
        raise ApiProblem("not_found", "no member with this phone; enrol them with POST /api/v1/members first")
    return found


def _when(data: dict[str, Any], field: str = "occurred_at") -> dt.datetime:
    moment = now()
    given: dt.datetime | None = data.get(field)
    if given is not None and given > moment + FUTURE_SLACK:
        raise invalid(field, "Must not be in the future.")
    return given or moment


def _sale(order: Order, customer: Customer, currency: str) -> dict[str, Any]:
    return {
        "order_id": order.erp_order_id,
        "points_earned": order.points_earned,
        "amount": order.net_amount,
        "currency": currency,
        "store": order.store,
        "occurred_at": order.order_date,
        "member": member(customer),
    }


@blp.route("/transactions", methods=["POST"])
@requires("transactions:write")
@blp.arguments(SaleIn, example={"order_id": "WEB-100234", "phone": "09812345678", "amount": "1499.00", "store": "web"})
@writes
@blp.response(201, SaleOut, description="The sale was recorded and earned its points.")
@blp.alt_response(200, schema=SaleOut, description="The order was known: nothing more earned, same figures.")
def post_sale(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Record a sale: the member earns its points once per order_id."""
    occurred = _when(data)
    with unit_of_work() as session:
        locked, program = _locked_member(session, data)
        if data.get("currency", program.currency).upper() != program.currency:
            raise invalid("currency", f"The program counts in {program.currency}.")
        lines = tuple(
            LineData(
                line_no=n,
                amount=line["amount"],
                erp_product_id=line.get("sku"),
                category=line.get("category"),
                qty=line.get("qty") or Decimal(1),
            )
            for n, line in enumerate(data.get("lines") or (), start=1)
        )
        sale = OrderData(
            erp_order_id=data["order_id"],
            customer_id=locked.id,
            order_date=occurred,
            net_amount=data["amount"],
            lines=lines,
        )
        posted = direct_sales.record_sale(session, sale, program, now(), store=data.get("store"), locked=locked)
        return _sale(posted.order, posted.customer, program.currency), 201 if posted.created else 200


@blp.route("/returns", methods=["POST"])
@requires("transactions:write")
@blp.arguments(ReturnIn, example={"return_id": "RET-5521", "order_id": "WEB-100234", "amount": "499.00"})
@writes
@blp.response(201, ReturnOut, description="The return took its points back.")
@blp.alt_response(200, schema=ReturnOut, description="The return was known: nothing more taken back.")
def post_return(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Record a return: points are taken back in proportion, once per return_id."""
    occurred = _when(data)
    with unit_of_work() as session:
        given = ReturnData(data["return_id"], data["order_id"], occurred, data["amount"])
        done = direct_sales.record_return(session, given, rules(session), now())
        customer = session.get(Customer, done.order.customer_id)
        assert customer is not None
        body = {
            "return_id": done.order_return.erp_return_id,
            "order_id": done.order.erp_order_id,
            "amount": done.order_return.amount,
            "points_returned": done.order_return.points_clawed,
            "member": member(customer),
        }
        return body, 201 if done.created else 200
