"""The WhatsApp front door: webhook, conversations, outbox and the chat simulator."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bot import simulator, webhook

    webhook.init_app(app)
    app.cli.add_command(simulator.chat_command)
