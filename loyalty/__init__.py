"""The composition root: configuration, the app factory, the CLI and the scheduler."""

from loyalty.app import create_app

__all__ = ["create_app"]
