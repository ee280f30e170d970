"""Staff accounts (admins only): create, change role or password, deactivate, unlock, sign out everywhere.

Each of those but creating ends the account's open sessions (``domain.staff_sessions``):
whoever held them signs in again under the new terms.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.blueprint import bp
from admin.forms import ActionForm, StaffEditForm, StaffForm
from admin.security import ADMINS, allow
from admin.web import PER_PAGE, actor, make_page, now, offset_for, page_number, unit_of_work
from domain import audit, staff_sessions
from domain.errors import ValidationError
from domain.users import StaffUser, create_user, set_password


@bp.route("/users", methods=["GET", "POST"])
@allow(*ADMINS)
def users() -> ResponseReturnValue:
    form = StaffForm()
    if form.validate_on_submit():
        with unit_of_work() as session:
            user = create_user(session, form.email.data or "", form.role.data, form.password.data or "", form.name.data)
            audit.record(
                session,
                actor=actor(),
                action="user.create",
                entity_type="staff_user",
                entity_id=user.id,
                now=now(),
                details={"email": user.email, "role": user.role},
            )
        flash(f"Created {user.role} account {user.email}.", "success")
        return redirect(url_for("admin.users"))
    number = page_number()
    stmt = select(StaffUser).order_by(StaffUser.email, StaffUser.id)
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(PER_PAGE + 1).offset(offset_for(number))))
    status = 400 if form.errors else 200
    page = make_page(rows, number)
    return render_template("admin/users.html", page=page, form=form, action=ActionForm(), now=now()), status


def _end_sessions(session: Session, user: StaffUser, reason: str) -> int:
    return staff_sessions.revoke_all(session, user.id, now=now(), reason=reason)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allow(*ADMINS)
def user_edit(user_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        user = session.get(StaffUser, user_id) or abort(404)
        form = StaffEditForm(obj=user)
        if form.validate_on_submit():
            if user.id == current_user.id and (form.role.data != "admin" or not form.active.data):
                flash("You cannot remove your own admin role or deactivate yourself.", "error")
                return redirect(url_for("admin.user_edit", user_id=user_id))
            before = {"role": user.role, "active": user.active}
            user.role = form.role.data
            user.active = bool(form.active.data)
            after = {"role": user.role, "active": user.active}
            details: dict[str, object] = {"before": before, "after": after}
            try:
                if form.password.data:
                    set_password(user, form.password.data)
                    details["password"] = "changed"
            except ValidationError as exc:
                form.password.errors = [exc.reason[:1].upper() + exc.reason[1:] + "."]
                session.rollback()
                return render_template("admin/user_edit.html", user=user, form=form, action=ActionForm()), 400
            if before != after or "password" in details:
                details["sessions_ended"] = _end_sessions(session, user, "account_change")
            audit.record(
                session,
                actor=actor(),
                action="user.update",
                entity_type="staff_user",
                entity_id=user.id,
                now=now(),
                details=details,
            )
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin.users"))
        sessions = staff_sessions.live_count(session, user.id, now())
    status = 400 if form.errors else 200
    return render_template("admin/user_edit.html", user=user, form=form, action=ActionForm(), sessions=sessions), status


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@allow(*ADMINS)
def user_unlock(user_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        user = session.get(StaffUser, user_id) or abort(404)
        user.locked_until = None
        user.failed_logins = 0
        ended = _end_sessions(session, user, "unlock")
        audit.record(
            session,
            actor=actor(),
            action="user.unlock",
            entity_type="staff_user",
            entity_id=user.id,
            now=now(),
            details={"sessions_ended": ended},
        )
    flash(f"Unlocked {user.email}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/sign-out-everywhere", methods=["POST"])
@allow(*ADMINS)
def user_sign_out_everywhere(user_id: int) -> ResponseReturnValue:
    """End every session of the account, on every device (a lost phone, a shared computer)."""
    with unit_of_work() as session:
        user = session.get(StaffUser, user_id) or abort(404)
        ended = _end_sessions(session, user, "sign_out_everywhere")
        audit.record(
            session,
            actor=actor(),
            action="user.sign_out_everywhere",
            entity_type="staff_user",
            entity_id=user.id,
            now=now(),
            details={"sessions_ended": ended},
        )
    flash(f"Signed {user.email} out everywhere ({ended} session(s)).", "success")
    return redirect(url_for("admin.users"))
