"""The WhatsApp front door: webhook, conversations, outbox, the chat simulator and the public privacy pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bot import privacy_data, privacy_web, simulator, webhook
    from domain import campaign_privacy

    webhook.init_app(app)
    privacy_web.init_app(app)
    privacy_data.register()
    campaign_privacy.register()
    app.cli.add_command(simulator.chat_command)
