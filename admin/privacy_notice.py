"""Admins' side of privacy: the notice editor (versions), privacy settings, and the access log."""

from __future__ import annotations

import dataclasses

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin.blueprint import bp
from admin.privacy_forms import PrivacySettingsForm, notice_form
from admin.security import ADMINS, allow
from admin.web import actor, make_page, now, offset_for, page_number, unit_of_work
from bot import api as bot_api
from domain import access_log, audit, notices, privacy_settings
from domain.errors import DomainError
from domain.privacy_settings import PrivacySettings

SETTING_FIELDS = tuple(f.name for f in dataclasses.fields(PrivacySettings))


@bp.route("/privacy/notice", methods=["GET", "POST"])
@allow(*ADMINS)
def privacy_notice_editor() -> ResponseReturnValue:
    """Publish a new version: one text per language (a new catalog adds a language here)."""
    languages = tuple(bot_api.LANGUAGES)
    with unit_of_work() as session:
        shown = bot_api.privacy_notice(session)
        history = notices.versions(session)
    form = notice_form(languages, shown.texts, request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate_on_submit():
        bodies = {lang: str(getattr(form, f"body_{lang}").data) for lang in languages}
        try:
            version = _publish(bodies, languages, form.reason.data or "")
        except DomainError as exc:
            flash(exc.reason, "error")
        else:
            flash(f"Privacy notice {notices.label(version)} published; the chat links to it from now on.", "success")
            return redirect(url_for("admin.privacy_notice_editor"))
    status = 400 if request.method == "POST" else 200
    fields = [(lang, getattr(form, f"body_{lang}")) for lang in languages]
    return render_template("admin/privacy_notice.html", form=form, fields=fields, shown=shown, history=history), status


def _publish(bodies: dict[str, str], languages: tuple[str, ...], reason: str) -> int:
    with unit_of_work() as session:
        version = notices.publish(session, bodies, languages=languages, actor=actor(), now=now())
        audit.record(
            session,
            actor=actor(),
            action="privacy.notice_publish",
            entity_type="privacy_notice",
            entity_id=notices.label(version),
            now=now(),
            reason=reason,
        )
    return version


@bp.route("/privacy/settings", methods=["GET", "POST"])
@allow(*ADMINS)
def privacy_settings_page() -> ResponseReturnValue:
    with unit_of_work() as session:
        current = privacy_settings.load(session)
    if request.method == "GET":
        form = PrivacySettingsForm(formdata=None, **current.to_json())
        return render_template("admin/privacy_settings.html", form=form)
    form = PrivacySettingsForm()
    if not form.validate_on_submit():
        return render_template("admin/privacy_settings.html", form=form), 400
    updated = PrivacySettings(**{name: int(getattr(form, name).data) for name in SETTING_FIELDS})
    changes = {k: [v, updated.to_json()[k]] for k, v in current.to_json().items() if updated.to_json()[k] != v}
    if changes:
        with unit_of_work() as session:
            privacy_settings.save(session, updated, actor())
            audit.record(
                session,
                actor=actor(),
                action="privacy.settings",
                entity_type="settings",
                entity_id=privacy_settings.KEY,
                now=now(),
                reason=form.reason.data or None,
                details=changes,
            )
    flash("Privacy settings saved." if changes else "Nothing changed.", "success")
    return redirect(url_for("admin.privacy_settings_page"))


@bp.route("/privacy/access-log")
@allow(*ADMINS)
def access_log_page() -> ResponseReturnValue:
    """Who looked at which member's page, exported or erased, newest first (kept a year by default)."""
    raw_customer = request.args.get("customer", "").strip()
    staff = request.args.get("staff", "").strip()[:200]
    customer_id = int(raw_customer) if raw_customer.isdigit() else None
    number = page_number()
    with unit_of_work() as session:
        rows = access_log.entries(
            session, customer_id=customer_id, staff=staff, limit=51, offset=offset_for(number, 50)
        )
        days = privacy_settings.load(session).access_log_days
    return render_template(
        "admin/access_log.html",
        page=make_page(rows, number, 50),
        customer=raw_customer if customer_id else "",
        staff=staff,
        days=days,
    )
