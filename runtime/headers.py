"""Security headers on every response; the console adds its strict Content-Security-Policy (``admin``).

Each is a default: a room that needs another value for its own pages (the API's docs)
sets the header itself and keeps it.
"""

from __future__ import annotations

from flask import Flask, Response

# For responses of rooms that set no policy of their own: no framing, nothing else assumed.
FRAMING_ONLY_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    production = app.config.get("APP_ENV") == "production"

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", FRAMING_ONLY_CSP)
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
