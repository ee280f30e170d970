"""The integration API (``/api/v1``) for tills, web shops and scripts.

One flask-smorest blueprint per resource module (``members``, ``transactions``, ``vouchers``,
``holds``, ``erp``, ``auth``); schemas are declared once, next to their routes or in ``schemas``, and
the OpenAPI 3.1 document (``/api/v1/openapi.json``) is generated from them. Routes stay thin: parse,
one domain call in one unit of work, serialise. The framework they share:

- ``errors``: RFC 9457 problem details for every error path under ``/api``;
- ``parsing``: the ``Blueprint`` whose argument parser refuses bad input field by field;
- ``security``: ``@requires(scope)``, API keys and staff tokens, the rate limit (``limits``);
- ``idempotency``: ``@writes``, one unit of work per write with ``Idempotency-Key`` and audit;
- ``web``: the unit of work for reads, the clock, cursor pages (``ListArgs``, ``page_of``, ``page_schema``).
"""

from __future__ import annotations

import http
from typing import Any

import flask_smorest
from apispec import BasePlugin
from flask import Flask

from api import errors, limits
from api.schemas import Problem
from api.security import SECURITY_SCHEME

# Every resource blueprint, in the order the docs list them. A new resource adds its module here.
RESOURCES = ("auth", "members", "consents", "transactions", "vouchers", "holds", "erp", "campaigns")

DESCRIPTION = """For tills, web shops and scripts. JSON in and out.

**Auth**: `Authorization: Bearer <key>` with an API key (`flask --app wsgi apikeys create NAME --scopes ...`)
or a staff access token from `POST /api/v1/auth/token`. Each operation names the scope it needs.

**Errors** are `application/problem+json` (RFC 9457) with a `code`; bad fields are listed in `errors`.

**Idempotency**: every POST accepts `Idempotency-Key`; a retry with the same key and body gets the first
answer again (header `Idempotent-Replayed: true`). Keys are kept at least 24 hours, per caller.

**Conventions**: points are integers; money is a decimal string with its currency; times are RFC 3339 in
UTC. Lists take `limit` (1-100) and `starting_after` and answer `{"data", "has_more", "next_cursor"}`.
"""


class IdempotencyPlugin(BasePlugin):
    """Documents the ``Idempotency-Key`` header on every operation that ``@writes`` marked."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and operation.get("x-idempotent"):
                params = operation.setdefault("parameters", [])
                params.append("IdempotencyKey")
                responses = operation.setdefault("responses", {})
                responses.setdefault("400", "BAD_REQUEST")  # a malformed Idempotency-Key, on any POST
                responses.setdefault("409", "CONFLICT")
                responses.setdefault("422", "UNPROCESSABLE_ENTITY")


class LoyaltyApi(flask_smorest.Api):
    """flask-smorest's ``Api`` answering problem details, and only under ``/api`` (see ``errors``)."""

    ERROR_SCHEMA = Problem
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        errors.init_app(self._app)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            if status >= 400:
                response = {
                    "description": status.phrase,
                    "content": {errors.PROBLEM_JSON: {"schema": Problem}},
                }
                self.spec.components.response(status.name, response, lazy=True)


def init_app(app: Flask) -> None:
    for name, value in {
        "API_TITLE": "Loyalty Bot integration API",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }.items():
        app.config.setdefault(name, value)
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {"info": {"description": DESCRIPTION}, "servers": [{"url": "/", "description": "this host"}]},
    )
    rest = LoyaltyApi(app, spec_kwargs={"extra_plugins": [IdempotencyPlugin()]})
    rest.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`lk_...`) or a staff access token (`la_...`).",
        },
    )
    rest.spec.components.parameter(
        "IdempotencyKey",
        "header",
        {
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "Makes a retry safe: the same key and body get the first answer again.",
        },
    )
    limits.init_app(app)
    _register(app, rest)


def _register(app: Flask, rest: flask_smorest.Api) -> None:
    import importlib

    from api import cli, docs

    for name in RESOURCES:
        module = importlib.import_module(f"api.{name}")
        rest.register_blueprint(module.blp)
    app.register_blueprint(docs.bp)
    app.cli.add_command(cli.apikeys_group)
    app.extensions["api.rest"] = rest
