"""Program settings (admins only): earn rate, tiers, expiry, referrals, templates, campaigns.

Rules are one document in the database and every unit of work reads them, so
a save here takes effect on the next message or sync without a restart.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.blueprint import bp
from admin.dashboard import forget_cache
from admin.forms import ActionForm, CampaignForm, RulesForm
from admin.security import ADMINS, allow
from admin.web import PER_PAGE, actor, make_page, now, offset_for, page_number, unit_of_work
from bot import api as bot_api
from domain import audit
from domain.earning import Campaign, validate_campaign
from domain.rules import ProgramRules, load_rules, save_rules

TEMPLATE_KINDS = (
    "points_earned",
    "tier_changed",
    "points_expiring",
    "voucher_issued",
    "points_payment_code",
    "link_code",
)
SIMPLE_FIELDS = (
    "points_per_unit",
    "spend_unit",
    "expiry_months",
    "expiry_warning_days",
    "referrer_bonus",
    "referee_bonus",
    "referral_min_purchase",
    "voucher_valid_days",
    "point_value",
)


def form_from_rules(rules: ProgramRules) -> RulesForm:
    values: dict[str, Any] = {name: getattr(rules, name) for name in SIMPLE_FIELDS}
    values["gold"] = rules.tier_thresholds["gold"]
    values["platinum"] = rules.tier_thresholds["platinum"]
    for kind in TEMPLATE_KINDS:
        values[f"tpl_{kind}"] = rules.templates.get(kind, kind)
    return RulesForm(formdata=None, **values)


def rules_from_form(form: RulesForm, current: ProgramRules) -> ProgramRules:
    changes: dict[str, Any] = {name: getattr(form, name).data for name in SIMPLE_FIELDS}
    for name in ("spend_unit", "referral_min_purchase", "point_value"):
        changes[name] = Decimal(str(changes[name]))
    changes["tier_thresholds"] = {
        "silver": Decimal(0),
        "gold": Decimal(str(form.gold.data)),
        "platinum": Decimal(str(form.platinum.data)),
    }
    changes["templates"] = {
        **current.templates,
        **{
            kind: (getattr(form, f"tpl_{kind}").data or "").strip() or current.templates.get(kind, kind)
            for kind in TEMPLATE_KINDS
        },
    }
    return dataclasses.replace(current, **changes)


def diff(before: ProgramRules, after: ProgramRules) -> dict[str, Any]:
    old, new = before.to_json(), after.to_json()
    return {key: [old[key], new[key]] for key in new if old.get(key) != new[key]}


def _page(form: RulesForm, campaign_form: CampaignForm, status: int = 200) -> ResponseReturnValue:
    number = page_number()
    stmt = select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(PER_PAGE + 1).offset(offset_for(number))))
        whatsapp = bot_api.whatsapp_number(session, current_app.config)
    campaigns = make_page(rows, number)
    return render_template(
        "admin/settings.html",
        form=form,
        campaign_form=campaign_form,
        campaigns=campaigns,
        action=ActionForm(),
        whatsapp=whatsapp,
    ), status


@bp.route("/settings", methods=["GET", "POST"])
@allow(*ADMINS)
def settings() -> ResponseReturnValue:
    if request.method == "GET":
        with unit_of_work() as session:
            rules = load_rules(session)
        return _page(form_from_rules(rules), CampaignForm(formdata=None))
    form = RulesForm()
    if not form.validate_on_submit():
        return _page(form, CampaignForm(formdata=None), 400)
    with unit_of_work() as session:
        current = load_rules(session)
        updated = rules_from_form(form, current)
        changes = diff(current, updated)
        if changes:
            save_rules(session, updated, actor())
            audit.record(
                session,
                actor=actor(),
                action="rules.update",
                entity_type="settings",
                entity_id="program_rules",
                now=now(),
                reason=form.reason.data,
                details=changes,
            )
    forget_cache()
    flash("Program settings saved; they apply from now on." if changes else "Nothing changed.", "success")
    return redirect(url_for("admin.settings"))


@bp.route("/settings/whatsapp-number", methods=["POST"])
@allow(*ADMINS)
def whatsapp_number_refresh() -> ResponseReturnValue:
    """Read the business number from the Graph API now, rather than at the scheduler's next run."""
    if not ActionForm().validate_on_submit():
        abort(400)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with unit_of_work() as session:
        found = bot_api.refresh_whatsapp_number(session, app, now())
    if found.known:
        flash(f"WhatsApp number: {found.display}.", "success")
    else:
        flash(f"No WhatsApp number known: {found.problem}", "error")
    return redirect(url_for("admin.settings"))


@bp.route("/settings/campaigns", methods=["POST"])
@allow(*ADMINS)
def campaign_new() -> ResponseReturnValue:
    form = CampaignForm()
    if not form.validate_on_submit():
        with unit_of_work() as session:
            rules = load_rules(session)
        return _page(form_from_rules(rules), form, 400)
    multiplier = Decimal(str(form.multiplier.data))
    validate_campaign(form.name.data or "", form.starts_on.data, form.ends_on.data, multiplier, form.bonus_points.data)
    with unit_of_work() as session:
        campaign = Campaign(
            name=(form.name.data or "").strip(),
            starts_on=form.starts_on.data,
            ends_on=form.ends_on.data,
            multiplier=multiplier,
            bonus_points=int(form.bonus_points.data or 0),
            category=(form.category.data or "").strip() or None,
            min_amount=int(form.min_amount.data or 0),
            active=True,
            created_at=now(),
        )
        session.add(campaign)
        session.flush()
        audit.record(
            session,
            actor=actor(),
            action="campaign.create",
            entity_type="campaign",
            entity_id=campaign.id,
            now=now(),
            details={"name": campaign.name, "from": str(campaign.starts_on), "to": str(campaign.ends_on)},
        )
    flash(f"Campaign “{campaign.name}” created.", "success")
    return redirect(url_for("admin.settings"))


@bp.route("/settings/campaigns/<int:campaign_id>/toggle", methods=["POST"])
@allow(*ADMINS)
def campaign_toggle(campaign_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        campaign = session.get(Campaign, campaign_id) or abort(404)
        campaign.active = not campaign.active
        audit.record(
            session,
            actor=actor(),
            action="campaign.activate" if campaign.active else "campaign.deactivate",
            entity_type="campaign",
            entity_id=campaign.id,
            now=now(),
        )
    flash(f"Campaign “{campaign.name}” is now {'active' if campaign.active else 'inactive'}.", "success")
    return redirect(url_for("admin.settings"))
