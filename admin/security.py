"""Who may do what: the per-view role marks, the guard, safe redirects, sign-in throttling."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError

from admin import bp, csrf, login_manager
from domain.users import StaffUser

# The lock-out is shared with the API's staff tokens, so it lives with the accounts.
from domain.users import is_locked as is_locked
from domain.users import record_failure as record_failure
from domain.users import record_success as record_success
from runtime import services

F = TypeVar("F", bound=Callable[..., Any])

EVERYONE = ("support", "manager")
MANAGERS = ("manager",)
ADMINS: tuple[str, ...] = ()
PUBLIC_ENDPOINTS = {"admin.login", "admin.static"}

IP_WINDOW_SECONDS = 15 * 60
IP_MAX_FAILURES = 30


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
    if not user_id.isdigit():
        return None
    with services.database().unit_of_work() as db:
        user = db.get(StaffUser, int(user_id))
    return user if user is not None and user.active else None


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """CSRF on every POST, then a live session, then the view's roles."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if session_expired():
        logout_user()
        session.clear()
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


class IpThrottle:
    """Failed sign-ins per client address in a sliding window (per process, cheap)."""

    def __init__(self, limit: int = IP_MAX_FAILURES, window: float = IP_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address)) >= self.limit

    def fail(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(time.monotonic())

    def clear(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        stamps = self._failures.setdefault(address, deque())
        cutoff = time.monotonic() - self.window
        while stamps and stamps[0] < cutoff:
            stamps.popleft()
        return stamps


ip_throttle = IpThrottle()


def start_session() -> None:
    session.permanent = True
    session["signed_in_at"] = time.time()
