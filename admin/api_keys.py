"""Integration API keys (admins only): make one (its key is shown once, on that page), list, revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from admin.blueprint import bp
from admin.forms import ActionForm, ApiKeyForm
from admin.security import ADMINS, allow
from admin.web import actor, now, unit_of_work
from domain import api_keys
from domain.api_keys import ApiKey


def _page(form: ApiKeyForm, new_key: str | None = None, status: int = 200) -> ResponseReturnValue:
    with unit_of_work() as session:
        keys = api_keys.list_keys(session)
    html = render_template("admin/api_keys.html", keys=keys, form=form, new_key=new_key, action=ActionForm())
    # The page that shows a key must not be kept by the browser or a proxy.
    return html, status, {"Cache-Control": "no-store"}


@bp.route("/api-keys", methods=["GET", "POST"])
@allow(*ADMINS)
def api_keys_page() -> ResponseReturnValue:
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400 if form.errors else 200)
    with unit_of_work() as session:
        key, secret = api_keys.create_key(
            session, form.name.data or "", form.scopes.data or [], actor=actor(), now=now(), rate=form.rate.data
        )
        name = key.name
    flash(f"API key {name} created. Copy it now: it is shown only this once.", "success")
    return _page(ApiKeyForm(formdata=None), new_key=secret, status=201)


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@allow(*ADMINS)
def api_key_revoke(key_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        if session.get(ApiKey, key_id) is None:
            abort(404)
        key = api_keys.revoke_by_id(session, key_id, actor=actor(), now=now())
        name = key.name
    flash(f"API key {name} revoked: it is refused from the next request on.", "success")
    return redirect(url_for("admin.api_keys_page"))
