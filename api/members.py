"""``/api/v1/members``: look-up by phone, enrolment, the member, their ledger, manual adjustments."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response, request
from sqlalchemy.orm import Session

from api.errors import ApiProblem
from api.fields import Bool, Int, Language, Phone, Text, UtcDateTime
from api.idempotency import HEADER, writes
from api.parsing import Blueprint
from api.schemas import MemberOut, Strict, member
from api.security import current, requires
from api.web import ListArgs, cc, cursor_id, now, page_of, page_schema, reading, rules, unit_of_work
from domain import enrolment, ledger
from domain.customers import Customer, find_by_e164
from domain.errors import NotFound
from domain.timeutil import add_months

blp = Blueprint("members", __name__, url_prefix="/api/v1/members", description="Members and their points.")
MEMBER_ID = "<int(min=1, max=2147483647):member_id>"


class LookupArgs(ma.Schema):
    phone = Phone(required=True, metadata={"description": "Any format the bot accepts.", "example": "09812345678"})

    class Meta:
        unknown = ma.EXCLUDE


class EnrolIn(Strict):
    phone = Phone(required=True, metadata={"example": "+91 98123 45678"})
    name = Text(200, allow_none=True, metadata={"example": "Asha Verma"})
    language = Language(allow_none=True, metadata={"example": "en"})
    referral_code = Text(16, allow_none=True, metadata={"example": "96YKDW"})
    marketing_opt_in = Bool(
        allow_none=True, metadata={"description": "`true` records marketing consent given at the till."}
    )


class LedgerEntryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"example": "earn"})
    points = ma.fields.Integer(required=True, metadata={"example": 14})
    description = ma.fields.String(allow_none=True, required=True, metadata={"example": "bill B-1042"})
    actor = ma.fields.String(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(allow_none=True, required=True)


LedgerPage = page_schema(LedgerEntryOut, "LedgerPage")


class AdjustmentIn(Strict):
    points = Int(-10_000_000, 10_000_000, required=True, metadata={"example": 50})
    reason = Text(200, required=True, metadata={"example": "goodwill for a late delivery"})

    @ma.validates("points")
    def _not_zero(self, value: int, **kwargs: Any) -> None:
        if value == 0:
            raise ma.ValidationError("Must not be 0.")


class AdjustmentOut(ma.Schema):
    entry_id = ma.fields.Integer(required=True)
    points = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    member = ma.fields.Nested(MemberOut, required=True)


def load_member(member_id: int, session: Session) -> Customer:
    customer = session.get(Customer, member_id)
    if customer is None:
        raise NotFound(f"no member {member_id}")
    return customer


@blp.route("", methods=["GET"])
@requires("members:read")
@blp.arguments(LookupArgs, location="query", as_kwargs=True)
@blp.response(200, MemberOut)
def lookup(phone: str) -> dict[str, Any]:
    """Look a member up by phone."""
    with reading() as session:
        customer = find_by_e164(session, phone)  # the Phone field normalised it
        if customer is None:
            raise ApiProblem("not_found", "no member with this phone")
        return member(customer)


@blp.route("", methods=["POST"])
@requires("members:write")
@blp.arguments(EnrolIn, example={"phone": "09812345678", "name": "Asha Verma", "marketing_opt_in": True})
@writes
@blp.response(201, MemberOut, description="A new member.")
@blp.alt_response(200, schema=MemberOut, description="The phone was known: the same member.")
def enrol(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Enrol a member (or find the one with this phone)."""
    with unit_of_work() as session:
        enrolled = enrolment.enrol_member(
            session,
            data["phone"],
            rules=rules(session),
            now=now(),
            actor=current().actor,
            country_code=cc(),
            name=data.get("name"),
            language=data.get("language"),
            referral_code=data.get("referral_code"),
            marketing_opt_in=data.get("marketing_opt_in"),
        )
        return member(enrolled.customer), 201 if enrolled.created else 200


@blp.route(f"/{MEMBER_ID}", methods=["GET"])
@requires("members:read")
@blp.response(200, MemberOut)
def get_member(member_id: int) -> dict[str, Any]:
    """A member by id."""
    with reading() as session:
        return member(load_member(member_id, session))


@blp.route(f"/{MEMBER_ID}/ledger", methods=["GET"])
@requires("members:read")
@blp.arguments(ListArgs, location="query", as_kwargs=True)
@blp.response(200, LedgerPage)
def member_ledger(member_id: int, limit: int, starting_after: str | None = None) -> Any:
    """The member's points ledger, newest first."""
    with reading() as session:
        load_member(member_id, session)
        rows = ledger.history_after(session, member_id, limit + 1, cursor_id(starting_after))
        page = page_of(rows, limit, lambda e: e.id)
    return {
        "data": [
            {
                "id": e.id,
                "kind": e.kind,
                "points": e.delta,
                "description": e.description,
                "actor": e.actor,
                "created_at": e.created_at,
                "expires_at": e.expires_at if e.delta > 0 else None,
            }
            for e in page.data
        ],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


@blp.route(f"/{MEMBER_ID}/adjustments", methods=["POST"])
@requires("points:adjust")
@blp.arguments(AdjustmentIn, example={"points": -50, "reason": "duplicate bill B-1042"})
@writes
@blp.response(201, AdjustmentOut)
def adjust(data: dict[str, Any], member_id: int) -> tuple[dict[str, Any], int] | Response:
    """Credit (positive) or debit (negative) points by hand, audited under the caller's name."""
    moment = now()
    key = request.headers.get(HEADER)
    with unit_of_work() as session:
        load_member(member_id, session)
        program = rules(session)
        posting = ledger.adjust(
            session,
            member_id,
            data["points"],
            reason=data["reason"],
            actor=current().actor,
            key=f"api:adjust:{current().holder}:{key or uuid.uuid4().hex}"[:160],
            now=moment,
            expires_at=add_months(moment, program.expiry_months),
        )
        customer = ledger.lock_customer(session, member_id)
        body = {
            "entry_id": posting.entry.id,
            "points": data["points"],
            "reason": data["reason"],
            "member": member(customer),
        }
    return body, 201
