"""``GET /api/docs``: Swagger UI from this host, no outside assets, so it works offline and behind a firewall.

The Swagger UI 5 files are the ones shipped inside the installed ``flask_swagger_ui`` package
(``flask_swagger_ui/dist``); this module only serves them, a page, and the start-up script (a file, not
inline, so that a strict Content-Security-Policy can allow ``script-src 'self'``).
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, send_from_directory, url_for

DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "index.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)
bp = Blueprint("api_docs_ui", __name__, url_prefix="/api/docs")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Loyalty Bot integration API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="stylesheet" href="{index_css}">
  <link rel="icon" type="image/png" href="{icon}" sizes="32x32">
</head>
<body>
  <div id="swagger-ui" data-spec="{spec}"></div>
  <script src="{bundle}"></script>
  <script src="{preset}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

INIT = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null
  });
});
"""


@bp.get("")
@bp.get("/")
def page() -> Response:
    def asset(name: str) -> str:
        return url_for("api_docs_ui.asset", filename=name)

    html = PAGE.format(
        css=asset("swagger-ui.css"),
        index_css=asset("index.css"),
        icon=asset("favicon-32x32.png"),
        bundle=asset("swagger-ui-bundle.js"),
        preset=asset("swagger-ui-standalone-preset.js"),
        init=url_for("api_docs_ui.init"),
        spec=url_for("api-docs.openapi_json"),
    )
    return Response(html, mimetype="text/html")


@bp.get("/init.js")
def init() -> Response:
    return Response(INIT, mimetype="text/javascript")


@bp.get("/assets/<filename>")
def asset(filename: str) -> Response:
    if filename not in ASSETS:
        abort(404)
    response = send_from_directory(DIST, filename, max_age=86400)
    return response
