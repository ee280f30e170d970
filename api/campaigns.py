"""``/api/v1/campaigns``: WhatsApp campaigns to a segment of members who consented to marketing.

A campaign is created as a ``draft`` with its audience counted; ``start`` sends it now, or
schedules it for ``send_at``, and refuses (409 ``limit_exceeded``) when the audience is more than
the number may still reach in 24 hours. The scheduler's sender does the sending at the shared
pace; ``pause``, ``resume`` and ``cancel`` take effect within a couple of seconds.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import marshmallow as ma
from flask import Response, current_app
from sqlalchemy.orm import Session

from api.fields import Bool, Id, Int, Money, Text, UtcDateTime
from api.idempotency import writes
from api.parsing import Blueprint
from api.schemas import Strict
from api.security import current, requires
from api.web import ListArgs, cursor_id, now, page_of, page_schema, unit_of_work
from domain import campaign_results, campaign_settings, campaigns
from domain.campaign_models import TEMPLATE_LANGUAGES, MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.errors import ValidationError
from domain.segments import Segment
from domain.template_fields import FIELDS

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1/campaigns", description="WhatsApp marketing campaigns.")
CAMPAIGN_ID = "<int(min=1, max=2147483647):campaign_id>"
SCOPE = "campaigns:write"


class TemplateIn(Strict):
    name = Text(512, required=True, metadata={"example": "weekend_double_points"})
    language = ma.fields.String(
        validate=ma.validate.OneOf(TEMPLATE_LANGUAGES),
        load_default="en",
        metadata={"description": "`member`: each member's own language."},
    )
    parameters = ma.fields.List(
        Text(1024),
        validate=ma.validate.Length(max=campaigns.MAX_PARAMETERS),
        load_default=list,
        metadata={"description": f"The body's {{{{1}}}}, {{{{2}}}}...: one of {', '.join(FIELDS)}, or literal text."},
    )


class SegmentIn(Strict):
    tiers = ma.fields.List(Text(16), metadata={"example": ["gold", "platinum"]})
    min_points = Int()
    max_points = Int()
    languages = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(("en", "hi"))))
    last_purchase_before = UtcDateTime(metadata={"description": "Bought before, and not since (lapsed)."})
    last_purchase_after = UtcDateTime()
    expiring_within_days = Int(1, 3650)
    spend_min = Money()
    spend_max = Money()
    spend_days = Int(1, 3650, metadata={"description": "The window of spend_min/spend_max (default 365)."})
    stores = ma.fields.List(Text(64))
    affiliate_referred = Bool()
    birthday_months = ma.fields.List(Int(1, 12))
    unread_of_campaign = Id(metadata={"description": "Got this campaign's message and did not read it."})


class CampaignIn(Strict):
    name = Text(120, required=True, metadata={"example": "Diwali double points"})
    template = ma.fields.Nested(TemplateIn, required=True)
    segment = ma.fields.Nested(SegmentIn, load_default=dict)
    send_at = UtcDateTime(allow_none=True, metadata={"description": "Send then (local quiet hours still apply)."})
    category = ma.fields.String(validate=ma.validate.OneOf(("marketing", "utility")), load_default="marketing")
    ignore_quiet_hours = Bool(load_default=False)


class CountsOut(ma.Schema):
    sent = ma.fields.Integer(required=True)
    delivered = ma.fields.Integer(required=True)
    read = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    skipped = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True)


class CampaignOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "draft, scheduled, sending, paused, done or cancelled"}
    )
    audience = ma.fields.Integer(required=True, metadata={"description": "Eligible members when last counted."})
    counts = ma.fields.Nested(CountsOut, required=True)
    template = ma.fields.Dict(required=True)
    segment = ma.fields.Dict(required=True)
    send_at = UtcDateTime(allow_none=True, required=True)
    pause_reason = ma.fields.String(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    started_at = UtcDateTime(allow_none=True, required=True)
    finished_at = UtcDateTime(allow_none=True, required=True)


class ResultsOut(ma.Schema):
    counts = ma.fields.Nested(CountsOut, required=True)
    replied = ma.fields.Integer(required=True)
    opted_out = ma.fields.Integer(required=True)
    unconfirmed = ma.fields.Integer(required=True)
    failed_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    skipped_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    buyers = ma.fields.Integer(required=True)
    revenue = ma.fields.Dict(required=True, metadata={"description": '{"amount": "1499.00", "currency": "INR"}'})


CampaignPage = page_schema(CampaignOut, "CampaignPage")


def _settings(session: Session) -> CampaignSettings:
    return campaign_settings.load(session, campaign_settings.defaults_from(current_app.config))


def view(session: Session, campaign: MessageCampaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "audience": campaign.audience,
        "counts": campaigns.counts(session, campaign.id),
        "template": {
            "name": campaign.template_name,
            "language": campaign.template_language,
            "parameters": campaign.template_parameters,
        },
        "segment": campaign.segment,
        "send_at": campaign.send_at,
        "pause_reason": campaign.pause_reason,
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
    }


def _segment(data: dict[str, Any]) -> Segment:
    plain = {
        k: (v.isoformat() if hasattr(v, "isoformat") else (str(v) if k.startswith("spend_m") else v))
        for k, v in data.items()
    }
    try:
        return Segment.from_json(plain)
    except ValidationError as exc:
        field = exc.reason.split(":", 1)[0]
        raise ValidationError(exc.reason, field=f"segment.{field}") from None


@blp.route("", methods=["POST"])
@requires(SCOPE)
@blp.arguments(
    CampaignIn,
    example={
        "name": "Double points weekend",
        "template": {"name": "double_points", "language": "member", "parameters": ["name", "points"]},
        "segment": {"tiers": ["gold"], "min_points": 100},
    },
)
@writes
@blp.response(201, CampaignOut)
def create_campaign(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A draft campaign, its audience counted (members of the segment who may get marketing now)."""
    template = data["template"]
    with unit_of_work() as session:
        campaign = campaigns.create(
            session,
            name=data["name"],
            template_name=template["name"],
            language=template["language"],
            parameters=template["parameters"],
            segment=_segment(data["segment"]),
            now=now(),
            settings=_settings(session),
            send_at=data.get("send_at"),
            category=data["category"],
            ignore_quiet_hours=data["ignore_quiet_hours"],
            actor=current().actor,
        )
        return view(session, campaign), 201


@blp.route("", methods=["GET"])
@requires(SCOPE)
@blp.arguments(ListArgs, location="query", as_kwargs=True)
@blp.response(200, CampaignPage)
def list_campaigns(limit: int, starting_after: str | None = None) -> dict[str, Any]:
    """Campaigns, newest first."""
    with unit_of_work() as session:
        rows = campaigns.listing(session, limit + 1, cursor_id(starting_after))
        page = page_of(rows, limit, lambda c: c.id)
        return {
            "data": [view(session, c) for c in page.data],
            "has_more": page.has_more,
            "next_cursor": page.next_cursor,
        }


@blp.route(f"/{CAMPAIGN_ID}", methods=["GET"])
@requires(SCOPE)
@blp.response(200, CampaignOut)
def get_campaign(campaign_id: int) -> dict[str, Any]:
    """The campaign, its status and cumulative counts (a read message is also delivered and sent)."""
    with unit_of_work() as session:
        return view(session, campaigns.get(session, campaign_id))


def _act(campaign_id: int, action: str) -> dict[str, Any]:
    moment, actor = now(), current().actor
    with unit_of_work() as session:
        campaign = campaigns.get(session, campaign_id, lock=True)
        if action == "start":
            campaigns.start(session, campaign, moment, _settings(session), actor)
        elif action == "pause":
            campaigns.pause(session, campaign, moment, actor, f"paused by {actor}")
        elif action == "resume":
            campaigns.resume(session, campaign, moment, actor)
        else:
            campaigns.cancel(session, campaign, moment, actor)
        return view(session, campaign)


@blp.route(f"/{CAMPAIGN_ID}/start", methods=["POST"])
@requires(SCOPE)
@writes
@blp.response(200, CampaignOut)
def start_campaign(campaign_id: int) -> dict[str, Any]:
    """Send now (or at `send_at`); 409 `limit_exceeded` past the number's 24-hour messaging limit."""
    return _act(campaign_id, "start")


@blp.route(f"/{CAMPAIGN_ID}/pause", methods=["POST"])
@requires(SCOPE)
@writes
@blp.response(200, CampaignOut)
def pause_campaign(campaign_id: int) -> dict[str, Any]:
    """Stop sending; the rest waits for `resume`."""
    return _act(campaign_id, "pause")


@blp.route(f"/{CAMPAIGN_ID}/resume", methods=["POST"])
@requires(SCOPE)
@writes
@blp.response(200, CampaignOut)
def resume_campaign(campaign_id: int) -> dict[str, Any]:
    """Go on sending a paused campaign."""
    return _act(campaign_id, "resume")


@blp.route(f"/{CAMPAIGN_ID}/cancel", methods=["POST"])
@requires(SCOPE)
@writes
@blp.response(200, CampaignOut)
def cancel_campaign(campaign_id: int) -> dict[str, Any]:
    """Stop for good: members not yet sent to are skipped."""
    return _act(campaign_id, "cancel")


@blp.route(f"/{CAMPAIGN_ID}/results", methods=["GET"])
@requires(SCOPE)
@blp.response(200, ResultsOut)
def campaign_results_view(campaign_id: int) -> dict[str, Any]:
    """Sent, delivered, read, replied, failed by reason, opted out, and revenue from members who read it."""
    with unit_of_work() as session:
        campaigns.get(session, campaign_id)
        found = campaign_results.results(session, campaign_id, _settings(session))
        currency = str(current_app.config.get("CURRENCY") or "INR")
        out = {**found.__dict__, "revenue": {"amount": f"{found.revenue:.2f}", "currency": currency}}
        return out


@blp.route(f"/{CAMPAIGN_ID}/recipients.csv", methods=["GET"])
@requires(SCOPE)
@blp.response(200, content_type="text/csv")
def recipients_csv(campaign_id: int) -> Response:
    """Every recipient with status, WhatsApp id and times, as CSV."""
    with unit_of_work() as session:
        campaigns.get(session, campaign_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(campaign_results.CSV_HEADER)
        writer.writerows(campaign_results.recipients_rows(session, campaign_id))
    disposition = f'attachment; filename="campaign-{campaign_id}-recipients.csv"'
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition})


class PreflightOut(ma.Schema):
    eligible = ma.fields.Integer(required=True)
    held_back = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    limit_left = ma.fields.Integer(
        required=True, metadata={"description": "Members the number may still reach in 24 h."}
    )
    seconds = ma.fields.Integer(required=True, metadata={"description": "How long the send takes at the rate."})
    cost = ma.fields.Dict(required=True)


@blp.route(f"/{CAMPAIGN_ID}/preflight", methods=["GET"])
@requires(SCOPE)
@blp.response(200, PreflightOut)
def preflight(campaign_id: int) -> dict[str, Any]:
    """The audience now, who is held back and why, the 24-hour limit left, the time and the cost."""
    with unit_of_work() as session:
        campaign = campaigns.get(session, campaign_id)
        found = campaigns.preflight(session, campaign, now(), _settings(session))
        currency = str(current_app.config.get("CURRENCY") or "INR")
        return {**found.__dict__, "cost": {"amount": f"{found.cost:.2f}", "currency": currency}}


@blp.route(f"/{CAMPAIGN_ID}/retarget", methods=["POST"])
@requires(SCOPE)
@writes
@blp.response(201, CampaignOut)
def retarget(campaign_id: int) -> tuple[dict[str, Any], int]:
    """A new draft for those who got this campaign's message and did not read it."""
    with unit_of_work() as session:
        made = campaign_results.retarget_unread(session, campaign_id, now(), _settings(session), current().actor)
        return view(session, made), 201
