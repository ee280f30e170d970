"""The app factory: wires ``domain``, ``runtime``, ``bot``, ``erp``, ``admin`` and ``api`` together."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from domain import automation_privacy
from domain.clock import SystemClock
from domain.db import Database
from runtime import config as cfg
from runtime import headers
from runtime.proxies import TrustedProxies
from runtime.urls import BoundedIntConverter

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(Path.cwd() / "instance"))
    app.config.from_mapping(cfg.from_environment())
    # As data, so a package that builds the same app elsewhere (the bot's handler process) never imports us.
    app.config["APP_FACTORY"] = f"{__name__}:{create_app.__name__}"
    if test_config:
        app.config.from_mapping(test_config)
    cfg.check(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    _configure_logging(app)

    database = Database(app.config["DATABASE_URL"])
    app.extensions["loyalty.db"] = database
    app.extensions.setdefault("loyalty.clock", SystemClock())

    from loyalty import campaigns_cli, cli, health, privacy_cli

    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    health.init_app(app)
    cli.init_app(app)
    privacy_cli.init_app(app)
    campaigns_cli.init_app(app)
    _init_packages(app)
    automation_privacy.register()
    headers.init_app(app)
    app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.trusted_proxies(app.config))  # type: ignore[method-assign]
    return app


def _init_packages(app: Flask) -> None:
    """Each edge package attaches itself; they never import each other."""
    import admin
    import api
    import bot
    import erp

    for package in (bot, erp, admin, api):
        init = getattr(package, "init_app", None)
        if init is not None:
            init(app)


def _configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
