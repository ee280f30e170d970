"""Staff accounts (admins only): create, change role, deactivate, unlock."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.forms import ActionForm, StaffEditForm, StaffForm
from admin.security import ADMINS, allow
from admin.web import PER_PAGE, actor, make_page, now, offset_for, page_number, unit_of_work
from domain import audit
from domain.users import StaffUser, create_user


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
            audit.record(
                session,
                actor=actor(),
                action="user.update",
                entity_type="staff_user",
                entity_id=user.id,
                now=now(),
                details={"before": before, "after": {"role": user.role, "active": user.active}},
            )
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", user=user, form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@allow(*ADMINS)
def user_unlock(user_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        user = session.get(StaffUser, user_id) or abort(404)
        user.locked_until = None
        user.failed_logins = 0
        audit.record(
            session, actor=actor(), action="user.unlock", entity_type="staff_user", entity_id=user.id, now=now()
        )
    flash(f"Unlocked {user.email}.", "success")
    return redirect(url_for("admin.users"))
