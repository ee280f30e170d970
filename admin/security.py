"""Who may do what: the per-view role marks, the guard, safe redirects, the server-side sessions.

A signed-in request needs both Flask-Login's user id in the (signed) cookie and a live
``staff_sessions`` row for the token next to it: revoking the row (sign-out, password
change, unlock, role change, "sign out everywhere") ends the session on every worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from admin.blueprint import bp, csrf, login_manager
from domain import staff_sessions
from domain.users import StaffUser
from runtime import services

F = TypeVar("F", bound=Callable[..., Any])

EVERYONE = ("support", "manager")
MANAGERS = ("manager",)
ADMINS: tuple[str, ...] = ()
PUBLIC_ENDPOINTS = {"admin.login", "admin.static"}
SESSION_TOKEN = "sid"


def allow(*roles: str) -> Callable[[F], F]:
    """Mark a view with the roles that may use it; admins may use every view.

    A view without a mark is refused to everyone but admins, so a new route
    is closed until someone decides who it is for.
    """

    def mark(view: F) -> F:
        view.allowed_roles = roles  # type: ignore[attr-defined]
        return view

    return mark


def role_allows(user: StaffUser, endpoint: str | None) -> bool:
    """Whether ``user`` may open the view behind ``endpoint``."""
    view = current_app.view_functions.get(endpoint or "")
    roles: tuple[str, ...] | None = getattr(view, "allowed_roles", None)
    if roles is None:
        return user.role == "admin"
    return user.can(*roles)


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The account, when the cookie's session token names a live session of it (one query)."""
    token = session_token()
    if not user_id.isdigit() or token is None:
        return None
    with services.database().unit_of_work() as db:
        return staff_sessions.signed_in_user(db, token, int(user_id), services.now())


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """Text the database can store, CSRF on every POST, then a live session, then the view's roles."""
    if any("\x00" in value for _key, values in [*request.args.lists(), *request.form.lists()] for value in values):
        abort(400, "Text with a NUL character (%00) cannot be searched for or saved.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if session_expired():
        end_session("expired")
        return login_manager.unauthorized()
    if not role_allows(current_user, request.endpoint):
        abort(403)
    return None


def session_expired() -> bool:
    """Absolute expiry: a session lasts SESSION_HOURS from sign-in, however busy."""
    started = session.get("signed_in_at")
    if not isinstance(started, int | float):
        return True
    return time.time() - started > current_app.permanent_session_lifetime.total_seconds()


@bp.app_context_processor
def inject_roles() -> dict[str, Any]:
    def can_open(endpoint: str) -> bool:
        return bool(current_user.is_authenticated) and role_allows(current_user, endpoint)

    return {"can_open": can_open}


@bp.errorhandler(400)
def bad_request(error: HTTPException) -> ResponseReturnValue:
    """A number or date outside its bounds, and the like: said in words on the console's error page."""
    return render_template("admin/error.html", code=400, message=error.description), 400


@bp.errorhandler(403)
def forbidden(_error: Exception) -> ResponseReturnValue:
    return render_template("admin/error.html", code=403, message="Your role does not allow this page."), 403


@bp.errorhandler(404)
def not_found(_error: Exception) -> ResponseReturnValue:
    return render_template("admin/error.html", code=404, message="There is nothing here."), 404


@bp.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> ResponseReturnValue:
    message = f"The form was refused ({error.description}). Reload the page and try again."
    return render_template("admin/error.html", code=400, message=message), 400


def safe_next(target: str | None) -> str | None:
    """A ``next`` we may redirect to: a relative path on this host, nothing else."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


def redirect_back(default_endpoint: str = "admin.dashboard", **values: Any) -> ResponseReturnValue:
    """Back to the page the form was on (same host only), else to ``default_endpoint``."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc == request.host and parts.path.startswith("/admin"):
        return redirect(parts.path + (f"?{parts.query}" if parts.query else ""))
    return redirect(url_for(default_endpoint, **values))


def start_session(user: StaffUser) -> None:
    """After ``login_user``: a server-side session row, its token in the cookie."""
    lifetime = current_app.permanent_session_lifetime
    with services.database().unit_of_work() as db:
        token = staff_sessions.start(db, user, now=services.now(), lifetime=lifetime, address=request.remote_addr)
    session.permanent = True
    session["signed_in_at"] = time.time()
    session[SESSION_TOKEN] = token


def end_session(reason: str = "sign_out") -> None:
    """Sign out here: the row is revoked, so a copy of the cookie opens nothing either."""
    with services.database().unit_of_work() as db:
        staff_sessions.revoke(db, session.get(SESSION_TOKEN), now=services.now(), reason=reason)
    logout_user()
    session.clear()


def session_token() -> str | None:
    token = session.get(SESSION_TOKEN)
    return token if isinstance(token, str) else None
