"""``/api/v1/members/{id}/consents``: the member's consent ledger, and consent given or withdrawn at a till or
on a web shop (withdrawal is as easy as giving, from every channel).

Marketing may be given or withdrawn; service messages only withdrawn (agreeing to them is the member's
own answer in the chat). A member under 18 needs a parent's consent first: ``"parent": true`` records
that the caller checked it (refused without it, ``parental_consent_required``).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.fields import Bool, UtcDateTime
from api.idempotency import writes
from api.members import MEMBER_ID, load_member
from api.parsing import Blueprint
from api.schemas import MemberOut, Strict, member
from api.security import current, requires
from api.web import ListArgs, cursor_id, now, page_of, page_schema, unit_of_work
from domain import consents, ledger
from domain.errors import ValidationError

blp = Blueprint("consents", __name__, url_prefix="/api/v1/members", description="Consent to messages, per purpose.")


class ConsentIn(Strict):
    purpose = ma.fields.String(
        required=True, validate=ma.validate.OneOf(consents.PURPOSES), metadata={"example": "marketing"}
    )
    granted = Bool(required=True, metadata={"description": "`false` withdraws."})
    parent = Bool(metadata={"description": "A parent's consent for a member under 18, checked by the caller."})


class ConsentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    purpose = ma.fields.String(required=True, metadata={"example": "marketing"})
    granted = ma.fields.Boolean(required=True)
    channel = ma.fields.String(required=True, metadata={"example": "api"})
    notice_version = ma.fields.String(allow_none=True, required=True, metadata={"example": "v2"})
    language = ma.fields.String(allow_none=True, required=True)
    actor = ma.fields.String(allow_none=True, required=True)
    recorded_at = UtcDateTime(required=True)


class RecordedOut(ma.Schema):
    changed = ma.fields.Boolean(required=True, metadata={"description": "`false`: it was so already."})
    member = ma.fields.Nested(MemberOut, required=True)


ConsentPage = page_schema(ConsentOut, "ConsentPage")


def _row(row: consents.Consent) -> dict[str, Any]:
    fields = ("id", "purpose", "granted", "channel", "notice_version", "language", "actor", "recorded_at")
    return {name: getattr(row, name) for name in fields}


@blp.route(f"/{MEMBER_ID}/consents", methods=["GET"])
@requires("members:read")
@blp.arguments(ListArgs, location="query", as_kwargs=True)
@blp.response(200, ConsentPage)
def list_consents(member_id: int, limit: int, starting_after: str | None = None) -> Any:
    """Every consent and withdrawal of the member, newest first."""
    after = cursor_id(starting_after)
    with unit_of_work() as session:
        load_member(member_id, session)
        rows = list(reversed(consents.history(session, member_id)))
        if after is not None:
            rows = [r for r in rows if r.id < after]
        page = page_of(rows[: limit + 1], limit, lambda r: r.id)
        return {"data": [_row(r) for r in page.data], "has_more": page.has_more, "next_cursor": page.next_cursor}


@blp.route(f"/{MEMBER_ID}/consents", methods=["POST"])
@requires("members:write")
@blp.arguments(ConsentIn, example={"purpose": "marketing", "granted": False})
@writes
@blp.response(201, RecordedOut)
def record_consent(data: dict[str, Any], member_id: int) -> tuple[dict[str, Any], int]:
    """Record a consent or a withdrawal in the ledger (channel ``api``, the caller as actor)."""
    if data["purpose"] == consents.SERVICE and data["granted"]:
        raise ValidationError("consent to service messages is the member's own answer in the chat", field="granted")
    moment, actor = now(), current().actor
    with unit_of_work() as session:
        load_member(member_id, session)
        customer = ledger.lock_customer(session, member_id)
        if data.get("parent"):
            consents.record(
                session, customer, consents.GUARDIAN, data["granted"], channel="api", now=moment, actor=actor
            )
        changed = consents.record(
            session, customer, data["purpose"], data["granted"], channel="api", now=moment, actor=actor
        )
        return {"changed": changed, "member": member(customer)}, 201
