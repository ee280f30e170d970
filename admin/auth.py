"""Sign-in and sign-out. Wrong passwords are counted per account and per address."""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from admin import bp
from admin.forms import ActionForm, LoginForm
from admin.security import (
    EVERYONE,
    allow,
    ip_throttle,
    is_locked,
    record_failure,
    record_success,
    safe_next,
    start_session,
)
from admin.web import now, unit_of_work
from domain import audit
from domain.users import StaffUser, check_password, find_user, hash_password

log = logging.getLogger(__name__)
# Checked when the email is unknown, so that answering takes as long as for a real account.
_DUMMY_HASH = hash_password("not-a-real-password")
GENERIC_FAILURE = "Wrong email or password."


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
    if ip_throttle.blocked(address):
        flash("Too many failed sign-ins from this address. Wait a few minutes and try again.", "error")
        return render_template("admin/login.html", form=form, next=target), 429
    user, problem = _authenticate(form.email.data or "", form.password.data or "")
    if user is None:
        ip_throttle.fail(address)
        flash(problem, "error")
        return render_template("admin/login.html", form=form, next=target), 401
    ip_throttle.clear(address)
    login_user(user)
    start_session()
    return redirect(target or url_for("admin.dashboard"))


def _authenticate(email: str, password: str) -> tuple[StaffUser | None, str]:
    """The user when the password is right and the account usable; else why not (vaguely)."""
    moment = now()
    with unit_of_work() as session:
        user = find_user(session, email)
        if user is None:
            check_password(_DUMMY_HASH, password)
            return None, GENERIC_FAILURE
        if is_locked(user, moment):
            return None, "This account is locked after repeated failed sign-ins. Try again later."
        if not check_password(user.password_hash, password):
            record_failure(user, moment)
            if user.locked_until is not None and user.locked_until > moment:
                audit.record(
                    session,
                    actor=user.email,
                    action="user.locked",
                    entity_type="staff_user",
                    entity_id=user.id,
                    now=moment,
                )
            return None, GENERIC_FAILURE
        if not user.active:
            return None, GENERIC_FAILURE
        record_success(user, moment)
    return user, ""


@bp.route("/logout", methods=["POST"])
@allow(*EVERYONE)
def logout() -> ResponseReturnValue:
    ActionForm()  # the guard already checked the CSRF token
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("admin.login"))
