"""Reading request bodies and query strings into schemas; what does not fit is a 400 naming the field.

A body must be a JSON object (an empty body counts as ``{}``), sent as JSON: a body declared as
anything else (a form, plain text) is refused, even when it happens to parse. Numbers with a fraction are read as
``Decimal``, never as floats, so money keeps its paise; ``NaN``, ``Infinity``, integers of thousands
of digits and absurdly deep nesting are refused rather than crashing anything further in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, NoReturn

import flask_smorest
import marshmallow as ma
from flask import Request
from webargs.core import is_json
from webargs.flaskparser import FlaskParser

from api.errors import ApiProblem

MAX_DEPTH = 32


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a ``validation_error`` problem saying what is wrong."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        reason = "the body is not valid JSON" if not isinstance(exc, RecursionError) else "the body nests too deep"
        raise ApiProblem("validation_error", reason, errors=[("body", reason)]) from None
    if not isinstance(value, dict):
        reason = "the body must be a JSON object"
        raise ApiProblem("validation_error", reason, errors=[("body", reason)])
    if _depth(value) > MAX_DEPTH:
        reason = "the body nests too deep"
        raise ApiProblem("validation_error", reason, errors=[("body", reason)])
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """marshmallow's nested ``{field: [messages]}`` as ``(dotted.field, message)`` pairs."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            nested = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten(value, prefix if key == "_schema" else nested)
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from flatten(item, prefix)
    else:
        yield prefix or "body", str(messages)


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: Request) -> Any:
        raw = req.get_data(cache=True)
        if raw.strip() and req.mimetype and not is_json(req.mimetype):
            reason = f"the body must be JSON (Content-Type: application/json), not {req.mimetype}"
            raise ApiProblem("validation_error", reason, errors=[("body", reason)])
        return parse_body(raw)

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        by_location = error.messages if isinstance(error.messages, dict) else {"json": error.messages}
        errors = [pair for messages in by_location.values() for pair in flatten(messages)]
        detail = "; ".join(f"{field}: {message}" for field, message in errors[:5]) or "the request is not valid"
        raise ApiProblem("validation_error", detail, errors=errors)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint reading arguments with ``Parser``: use it for every API resource."""

    ARGUMENTS_PARSER = Parser()
