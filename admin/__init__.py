"""The staff console: a Flask blueprint behind Flask-Login.

``init_app`` attaches the login manager, CSRF protection and the blueprint.
Every route below ``/admin`` needs a signed-in staff user whose role the view
allows (``admin.security.allow``); the check runs on the server in
``before_request`` so a hidden menu entry is never the only protection.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask

from admin.blueprint import bp, csrf, login_manager


def init_app(app: Flask) -> None:
    """Attach sign-in, CSRF and the console's routes to ``app``."""
    # CSRF is checked for the console's forms only (in ``security.guard``):
    # the WhatsApp webhook is a POST authenticated by its signature instead.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    hours = float(app.config.get("SESSION_HOURS") or 12)
    app.permanent_session_lifetime = dt.timedelta(hours=hours)
    # Flask predefines these keys (SameSite None, Secure False), so they are set, not defaulted.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config.get("APP_ENV") == "production"

    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    csrf.init_app(app)

    from admin import (  # noqa: F401  (each module adds its routes to ``bp``)
        account,
        affiliates,
        api_keys,
        audit,
        auth,
        automations,
        campaign_actions,
        campaign_settings_page,
        conversations,
        customers,
        dashboard,
        erp,
        messages,
        privacy,
        privacy_notice,
        rewards,
        security,
        settings,
        users,
        whatsapp_campaigns,
    )

    app.register_blueprint(bp)
