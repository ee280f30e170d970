"""WhatsApp campaigns in the console: the list, the form with its segment builder and live count, the campaign page.

Not the points-bonus "Bonus campaigns" on the settings page (``domain.earning.Campaign``): these
are template messages to a segment of members who consented to marketing (``domain.campaigns``).
Admins and managers create and send; support reads. Every change is in the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin import campaign_views
from admin.blueprint import bp
from admin.campaign_forms import AudienceForm, CampaignForm, TestSendForm
from admin.forms import ActionForm, new_nonce
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import PER_PAGE, actor, make_page, money, now, offset_for, page_number, unit_of_work
from domain import audit, campaign_health, campaign_results, campaign_settings, campaign_test_send, campaigns
from domain.campaign_models import CampaignEvent, CampaignRecipient, MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.errors import DomainError
from domain.marketing import HOLD_REASONS, may_send_now, next_send_time
from domain.segments import audience

BASE = "/whatsapp-campaigns"


def load_settings(session: Session) -> CampaignSettings:
    return campaign_settings.load(session, campaign_settings.defaults_from(current_app.config))


def record(session: Session, action: str, campaign: MessageCampaign, **details: Any) -> None:
    audit.record(
        session,
        actor=actor(),
        action=f"whatsapp_campaign.{action}",
        entity_type="message_campaign",
        entity_id=campaign.id,
        now=now(),
        details={"name": campaign.name, **details},
    )


def list_counts(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """Sent, read and failed of each listed campaign, in one query (cumulative, as ``campaigns.counts``)."""
    r = CampaignRecipient
    stmt = (
        select(r.campaign_id, r.status, func.count(r.id))
        .where(r.campaign_id.in_(ids))
        .group_by(r.campaign_id, r.status)
    )
    by: dict[int, dict[str, int]] = {i: {} for i in ids}
    for campaign_id, status, n in session.execute(stmt):
        by[campaign_id][status] = int(n)
    return {
        i: {
            "sent": sum(s.get(k, 0) for k in ("sent", "delivered", "read")),
            "read": s.get("read", 0),
            "failed": s.get("failed", 0),
        }
        for i, s in by.items()
    }


@bp.route(BASE)
@allow(*EVERYONE)
def whatsapp_campaigns() -> ResponseReturnValue:
    number = page_number()
    stmt = select(MessageCampaign).order_by(MessageCampaign.id.desc()).limit(PER_PAGE + 1)
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.offset(offset_for(number))))
        counts = list_counts(session, [c.id for c in rows[:PER_PAGE]])
    return render_template("admin/whatsapp_campaigns.html", page=make_page(rows, number), counts=counts)


def _form_page(form: CampaignForm, status: int = 200) -> ResponseReturnValue:
    return render_template("admin/whatsapp_campaign_form.html", form=form, reasons=HOLD_REASONS), status


@bp.route(f"{BASE}/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def whatsapp_campaign_new() -> ResponseReturnValue:
    if request.method == "GET":
        return _form_page(CampaignForm(formdata=None))
    form = CampaignForm()
    if not form.validate_on_submit():
        return _form_page(form, 400)
    if form.ignore_quiet_hours.data and current_user.role != "admin":
        form.ignore_quiet_hours.errors = ["Only admins may send in quiet hours."]
        return _form_page(form, 400)
    moment = now()
    try:
        segment, send_at = form.segment(), form.send_at_utc(moment)
    except DomainError as exc:
        flash(exc.reason[0].upper() + exc.reason[1:] + ".", "error")
        return _form_page(form, 400)
    with unit_of_work() as session:
        campaign = campaigns.create(
            session,
            name=form.name.data or "",
            template_name=form.template_name.data or "",
            language=form.language.data or "en",
            parameters=form.template_parameters(),
            segment=segment,
            now=moment,
            settings=load_settings(session),
            send_at=send_at,
            category=form.category.data or "marketing",
            ignore_quiet_hours=bool(form.ignore_quiet_hours.data),
            actor=actor(),
        )
        record(session, "create", campaign, template=campaign.template_name, segment=campaign.segment)
    flash(f"Draft “{campaign.name}” saved: check the pre-flight box and send a test before starting.", "success")
    return redirect(url_for("admin.whatsapp_campaign", campaign_id=campaign.id))


@bp.route(f"{BASE}/audience")
@allow(*EVERYONE)
def whatsapp_campaign_audience() -> ResponseReturnValue:
    """The live count of the form's segment: eligible now, and held back by each reason (JSON)."""
    form = AudienceForm(request.args)
    if not form.validate():
        return jsonify({"errors": form.errors}), 400
    try:
        segment = form.segment()
    except DomainError as exc:
        return jsonify({"errors": {"segment": [exc.reason]}}), 400
    with unit_of_work() as session:
        found = audience(session, segment, now(), load_settings(session))
    return jsonify({"eligible": found.eligible, "held_back": found.held_back, "matching": found.matching})


def _preflight(session: Session, campaign: MessageCampaign, settings: CampaignSettings) -> dict[str, Any] | None:
    if campaign.status not in ("draft", "scheduled", "paused") or campaign.started_at is not None:
        return None
    moment = now()
    flight = campaigns.preflight(session, campaign, moment, settings)
    blocked = campaign_health.number_blocked(session) or campaign_health.template_blocked(
        session, campaign.template_name, campaign.template_language
    )
    quiet = not may_send_now(settings, moment, ignore_quiet_hours=campaign.ignore_quiet_hours)
    return {
        "flight": flight,
        "duration": campaign_views.duration(flight.seconds),
        "blocked": blocked,
        "quiet_until": campaign_views.local(next_send_time(settings, moment)) if quiet else None,
        "rate": settings.rate_per_second,
        "price": settings.price(campaign.category),
    }


def find(session: Session, campaign_id: int) -> MessageCampaign:
    """The campaign, or the console's 404 page."""
    return session.get(MessageCampaign, campaign_id) or abort(404)


@bp.route(f"{BASE}/<int:campaign_id>")
@allow(*EVERYONE)
def whatsapp_campaign(campaign_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        campaign = find(session, campaign_id)
        settings = load_settings(session)
        found = campaign_results.results(session, campaign.id, settings)
        events = list(
            session.scalars(
                select(CampaignEvent).where(CampaignEvent.campaign_id == campaign.id).order_by(CampaignEvent.id.desc())
            )
        )
        context = {
            "c": campaign,
            "preflight": _preflight(session, campaign, settings),
            "results": found,
            "funnel": campaign_views.funnel(found),
            "charts": campaign_views.charts(found),
            "events": events,
            "tests": campaign_test_send.sent_tests(session, campaign.id),
            "segment": campaign_views.describe(campaign.segment, money),
        }
    test_form = TestSendForm(formdata=None, nonce=new_nonce())
    return render_template(
        "admin/whatsapp_campaign.html",
        **context,
        views=campaign_views,
        action=ActionForm(),
        test_form=test_form,
    )


@bp.route(f"{BASE}/<int:campaign_id>/progress")
@allow(*EVERYONE)
def whatsapp_campaign_progress(campaign_id: int) -> ResponseReturnValue:
    """What the campaign page polls while it sends: the status, why it paused, the counts (JSON)."""
    with unit_of_work() as session:
        campaign = find(session, campaign_id)
        counts = campaigns.counts(session, campaign.id)
    return jsonify({"status": campaign.status, "pause_reason": campaign.pause_reason, "counts": counts})
