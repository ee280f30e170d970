"""Entry point for gunicorn (``gunicorn wsgi:app``) and ``flask --app wsgi``.

A configuration the app refuses (production without real secrets) ends the
process with its one-line reason, not a traceback.
"""

from loyalty import create_app
from runtime.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    raise SystemExit(f"Error: {exc}") from None
