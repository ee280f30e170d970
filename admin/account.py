"""The signed-in person's own account: change the password (which ends their other sessions)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from admin.blueprint import bp
from admin.forms import PasswordForm
from admin.security import EVERYONE, allow, session_token
from admin.web import now, unit_of_work
from domain import audit, staff_sessions
from domain.errors import ValidationError
from domain.users import StaffUser, check_password, set_password


@bp.route("/account", methods=["GET", "POST"])
@allow(*EVERYONE)
def account() -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        moment = now()
        with unit_of_work() as session:
            user = session.get(StaffUser, current_user.id, with_for_update=True)
            assert user is not None, "the guard let a signed-in user through"
            if not check_password(user.password_hash, form.current.data or ""):
                form.current.errors = ["That is not your current password."]
            else:
                try:
                    set_password(user, form.new.data or "")
                except ValidationError as exc:
                    form.new.errors = [exc.reason[:1].upper() + exc.reason[1:] + "."]
                else:
                    ended = staff_sessions.revoke_all(
                        session, user.id, now=moment, reason="password_change", keep_token=session_token()
                    )
                    audit.record(
                        session,
                        actor=user.email,
                        action="user.password_change",
                        entity_type="staff_user",
                        entity_id=user.id,
                        now=moment,
                        details={"sessions_ended": ended},
                    )
                    flash(f"Password changed. {ended} other session(s) signed out.", "success")
                    return redirect(url_for("admin.account"))
    status = 400 if form.errors else 200
    return render_template("admin/account.html", form=form), status
