"""The composition root: the app factory, the CLI and the scheduler. Nothing imports it."""

from loyalty.app import create_app

__all__ = ["create_app"]
