"""The console's blueprint and the extensions its modules share, apart from ``init_app``.

Each page module adds its routes to ``bp`` here; ``admin/__init__.py`` imports the page
modules and registers the blueprint, so no page module imports the package that imports it.
"""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
login_manager = LoginManager()
csrf = CSRFProtect()


# Everything the console's pages load is its own: the stylesheet, the script, the charts (inline SVG).
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@bp.after_request
def content_security_policy(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    return response
