"""Placeholder: the webhook is being built (issue 3)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    return None
