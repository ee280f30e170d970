"""Sign-in and sign-out. Wrong passwords are counted per account and per address (``domain.sign_ins``)."""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user

from admin.blueprint import bp
from admin.forms import ActionForm, LoginForm
from admin.security import EVERYONE, allow, end_session, safe_next, start_session
from admin.web import now, unit_of_work
from domain import sign_ins

log = logging.getLogger(__name__)
GENERIC_FAILURE = sign_ins.REFUSED


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("admin.dashboard"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("admin/login.html", form=form, next=target), status
    address = request.remote_addr or "unknown"
    moment = now()
    with unit_of_work() as session:
        if sign_ins.address_blocked(session, address, moment):
            flash(sign_ins.THROTTLED, "error")
            return render_template("admin/login.html", form=form, next=target), 429
        user = sign_ins.authenticate(session, form.email.data or "", form.password.data or "", address, moment)
    if user is None:
        flash(GENERIC_FAILURE, "error")
        return render_template("admin/login.html", form=form, next=target), 401
    login_user(user)
    start_session(user)
    return redirect(target or url_for("admin.dashboard"))


@bp.route("/logout", methods=["POST"])
@allow(*EVERYONE)
def logout() -> ResponseReturnValue:
    ActionForm()  # the guard already checked the CSRF token
    end_session()
    flash("Signed out.", "info")
    return redirect(url_for("admin.login"))
