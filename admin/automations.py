"""Lifecycle automations in the console: everyone sees them and what they did; admins edit them.

Each automation is one row of settings (``domain.automations``); a save applies from the
scheduler's next run (``loyalty.scheduler``: ``run_automations`` twice an hour) and is audited.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin.automation_forms import AutomationForm
from admin.blueprint import bp
from admin.security import ADMINS, EVERYONE, allow
from admin.web import actor, now, unit_of_work
from domain import automations
from domain.automation_models import KINDS
from domain.automations import PARAMETER_FIELDS, AutomationSettings
from domain.errors import ValidationError

ACTIVITY_DAYS = 30


@bp.route("/automations")
@allow(*EVERYONE)
def automations_page() -> ResponseReturnValue:
    with unit_of_work() as session:
        shown = automations.load_all(session)
        activity = automations.activity(session, now() - dt.timedelta(days=ACTIVITY_DAYS))
    return render_template("admin/automations.html", automations=shown, activity=activity, activity_days=ACTIVITY_DAYS)


def _form_for(settings: AutomationSettings) -> AutomationForm:
    return AutomationForm(
        formdata=None,
        enabled=settings.enabled,
        template_name=settings.template_name,
        template_language=settings.template_language,
        template_parameters="\n".join(settings.template_parameters),
        days=", ".join(str(d) for d in settings.days),
        bonus_points=settings.bonus_points,
        send_hour=settings.send_hour,
    )


def _from_form(form: AutomationForm, current: AutomationSettings) -> AutomationSettings:
    """The settings the form asks for; what a kind does not take stays as it is."""
    info = current.info
    marketing = info.category == automations.MARKETING
    return AutomationSettings(
        kind=current.kind,
        enabled=bool(form.enabled.data),
        template_name=(form.template_name.data or "").strip() if marketing else current.template_name,
        template_language=form.template_language.data if marketing else current.template_language,
        template_parameters=(
            automations.parse_parameters((form.template_parameters.data or "").splitlines())
            if marketing
            else current.template_parameters
        ),
        days=automations.parse_days(form.days.data or "") if info.days_count else current.days,
        bonus_points=int(form.bonus_points.data or 0) if info.takes_bonus else current.bonus_points,
        send_hour=int(form.send_hour.data if form.send_hour.data is not None else current.send_hour),
    )


def _page(
    kind: str, settings: AutomationSettings, form: AutomationForm, status: int = 200, problem: str | None = None
) -> ResponseReturnValue:
    form.days.label.text = settings.info.days_label or "Days"
    return render_template(
        "admin/automation_edit.html", a=settings, form=form, fields=PARAMETER_FIELDS, kind=kind, problem=problem
    ), status


def _show_error(form: AutomationForm, exc: ValidationError) -> str | None:
    """The domain's refusal under the field it is about; returned when it is about no field."""
    message = exc.reason[:1].upper() + exc.reason[1:] + "."
    field = getattr(form, str(exc.details.get("field", "")), None)
    if field is None:
        return message
    field.errors = [*field.errors, message]
    return None


@bp.route("/automations/<kind>", methods=["GET", "POST"])
@allow(*ADMINS)
def automation_edit(kind: str) -> ResponseReturnValue:
    if kind not in KINDS:
        abort(404)
    with unit_of_work() as session:
        current = automations.load(session, kind)
    if request.method == "GET":
        return _page(kind, current, _form_for(current))
    form = AutomationForm()
    if not form.validate_on_submit():
        return _page(kind, current, form, 400)
    try:
        wanted = _from_form(form, current)
        with unit_of_work() as session:
            changes = automations.save(session, wanted, actor=actor(), now=now(), reason=form.reason.data or None)
    except ValidationError as exc:
        return _page(kind, current, form, 400, problem=_show_error(form, exc))
    state = "on" if wanted.enabled else "off"
    flash(f"{current.info.title} saved: {state}." if changes else "Nothing changed.", "success")
    return redirect(url_for("admin.automations_page"))
