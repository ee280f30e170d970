"""WhatsApp campaign settings (admins): the pace, Meta's 24-hour limit, the weekly cap, quiet hours, prices.

Saved through ``domain.campaign_settings.save`` over the environment's defaults, with an audit
entry naming what changed; the sender reads them for its next batch, without a restart.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin.blueprint import bp
from admin.campaign_forms import CampaignSettingsForm
from admin.security import ADMINS, allow
from admin.web import actor, now, unit_of_work
from admin.whatsapp_campaigns import BASE, load_settings
from domain import audit, campaign_settings
from domain.campaign_settings import CampaignSettings
from domain.errors import ValidationError

EDITABLE = (
    "rate_per_second",
    "messaging_limit_24h",
    "marketing_cap_per_week",
    "quiet_hours",
    "price_marketing",
    "price_utility",
)


def _page(form: CampaignSettingsForm, current: CampaignSettings, status: int = 200) -> ResponseReturnValue:
    return render_template("admin/whatsapp_campaign_settings.html", form=form, current=current), status


@bp.route(f"{BASE}/settings", methods=["GET", "POST"])
@allow(*ADMINS)
def whatsapp_campaign_settings() -> ResponseReturnValue:
    with unit_of_work() as session:
        current = load_settings(session)
    if request.method == "GET":
        values = {name: getattr(current, name) for name in EDITABLE}
        return _page(CampaignSettingsForm(formdata=None, **values), current)
    form = CampaignSettingsForm()
    if not form.validate_on_submit():
        return _page(form, current, 400)
    changes = {name: getattr(form, name).data for name in EDITABLE}
    changes["quiet_hours"] = str(changes["quiet_hours"]).strip().lower()
    for name in ("price_marketing", "price_utility"):
        changes[name] = Decimal(str(changes[name]))
    try:
        updated = dataclasses.replace(current, **changes)
        updated.validate()
    except ValidationError as exc:
        flash(exc.reason[0].upper() + exc.reason[1:] + ".", "error")
        return _page(form, current, 400)
    before, after = current.to_json(), updated.to_json()
    # Compared as values: 0.86 and 0.8600 (the form's four places) are the same price.
    diff = {k: [before[k], after[k]] for k in after if getattr(current, k) != getattr(updated, k)}
    if diff:
        with unit_of_work() as session:
            campaign_settings.save(session, updated, actor())
            audit.record(
                session,
                actor=actor(),
                action="campaign_settings.update",
                entity_type="settings",
                entity_id=campaign_settings.KEY,
                now=now(),
                reason=form.reason.data,
                details=diff,
            )
    flash(
        "Campaign settings saved; the sender uses them from its next batch." if diff else "Nothing changed.", "success"
    )
    return redirect(url_for("admin.whatsapp_campaign_settings"))
